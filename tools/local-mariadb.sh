#!/usr/bin/env bash
# A private MariaDB for `make run`, in .state/mariadb: created on first use, then the app's
# database, account and migrations. Stays in the foreground so honcho can stop it.
set -euo pipefail
state=${STATE_DIR:-.state}/mariadb
port=${MYSQL_PORT:-3306}
db=${MYSQL_DATABASE:-kubeface}
user=${MYSQL_USER:-kubeface}
password=${MYSQL_PASSWORD:-kubeface}
PATH=/usr/sbin:/usr/bin:$PATH
mkdir -p "$state"
state=$(realpath "$state")
if [ ! -d "$state/data/mysql" ]; then
    mariadb-install-db --no-defaults --datadir="$state/data" --user="$(id -un)" \
        --auth-root-authentication-method=normal --skip-test-db >/dev/null
fi
mariadbd --no-defaults --datadir="$state/data" --socket="$state/mysqld.sock" --pid-file="$state/mysqld.pid" \
    --port="$port" --bind-address=127.0.0.1 --user="$(id -un)" --innodb-flush-log-at-trx-commit=2 &
pid=$!
trap 'kill -TERM $pid; wait $pid' TERM INT
for _ in $(seq 100); do
    mariadb --no-defaults -uroot --socket="$state/mysqld.sock" -e "SELECT 1" >/dev/null 2>&1 && break
    sleep 0.2
done
mariadb --no-defaults -uroot --socket="$state/mysqld.sock" <<SQL
CREATE DATABASE IF NOT EXISTS \`$db\` CHARACTER SET utf8mb4 COLLATE utf8mb4_bin;
CREATE USER IF NOT EXISTS '$user'@'127.0.0.1' IDENTIFIED BY '$password';
CREATE USER IF NOT EXISTS '$user'@'localhost' IDENTIFIED BY '$password';
GRANT ALL PRIVILEGES ON \`$db\`.* TO '$user'@'127.0.0.1';
GRANT ALL PRIVILEGES ON \`$db\`.* TO '$user'@'localhost';
SQL
.venv/bin/kubeface migrate
echo "MariaDB ready on 127.0.0.1:$port, database $db"
wait $pid
