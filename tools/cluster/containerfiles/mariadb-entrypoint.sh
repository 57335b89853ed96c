#!/bin/bash
# First start on an empty /var/lib/mysql: create the system tables, the root account (from any
# host, MARIADB_ROOT_PASSWORD), MARIADB_DATABASE and MARIADB_USER/MARIADB_PASSWORD on it, and a
# local healthcheck account for healthcheck.sh. Then run mariadbd in the foreground (exec: it
# gets the pod's SIGTERM and shuts down cleanly).
set -euo pipefail
datadir=/var/lib/mysql
socket=/run/mysqld/mysqld.sock
server=(mariadbd --datadir="$datadir" --socket="$socket" --pid-file=/run/mysqld/mysqld.pid
    --bind-address=0.0.0.0 --port=3306 --skip-name-resolve --tmpdir=/tmp
    --character-set-server=utf8mb4 --collation-server=utf8mb4_general_ci)

sql_escape() { printf '%s' "$1" | sed "s/\\\\/\\\\\\\\/g; s/'/\\\\'/g"; }

if [[ ! -d $datadir/mysql ]]; then
    : "${MARIADB_ROOT_PASSWORD:?set MARIADB_ROOT_PASSWORD: the root account needs a password}"
    echo "initialising $datadir"
    mariadb-install-db --datadir="$datadir" --auth-root-authentication-method=normal \
        --skip-test-db --skip-name-resolve >/dev/null
    "${server[@]}" --skip-networking &
    pid=$!
    for _ in $(seq 120); do mariadb -uroot --socket="$socket" -e 'SELECT 1' >/dev/null 2>&1 && break; sleep 0.5; done
    health_password=$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')
    root_password=$(sql_escape "$MARIADB_ROOT_PASSWORD")
    {
        echo "DELETE FROM mysql.global_priv WHERE User NOT IN ('root', 'mariadb.sys') OR Host NOT IN ('localhost');"
        echo "DELETE FROM mysql.proxies_priv WHERE Host NOT IN ('localhost');"
        echo "ALTER USER 'root'@'localhost' IDENTIFIED BY '$root_password';"
        echo "CREATE USER 'root'@'%' IDENTIFIED BY '$root_password';"
        echo "GRANT ALL ON *.* TO 'root'@'%' WITH GRANT OPTION;"
        echo "CREATE USER 'healthcheck'@'localhost' IDENTIFIED BY '$health_password';"
        echo "GRANT USAGE ON *.* TO 'healthcheck'@'localhost';"
        if [[ -n ${MARIADB_DATABASE:-} ]]; then
            echo "CREATE DATABASE IF NOT EXISTS \`$MARIADB_DATABASE\`;"
        fi
        if [[ -n ${MARIADB_USER:-} ]]; then
            echo "CREATE USER '$MARIADB_USER'@'%' IDENTIFIED BY '$(sql_escape "${MARIADB_PASSWORD:?MARIADB_USER needs MARIADB_PASSWORD}")';"
            [[ -z ${MARIADB_DATABASE:-} ]] || echo "GRANT ALL ON \`$MARIADB_DATABASE\`.* TO '$MARIADB_USER'@'%';"
        fi
        echo "FLUSH PRIVILEGES;"
    } | mariadb -uroot --socket="$socket"
    printf '[client]\nuser=healthcheck\npassword=%s\nsocket=%s\n' "$health_password" "$socket" >"$datadir/.my-healthcheck.cnf"
    chmod 600 "$datadir/.my-healthcheck.cnf"
    kill -TERM "$pid"
    wait "$pid"
    echo "initialised"
fi
exec "${server[@]}" "$@"
