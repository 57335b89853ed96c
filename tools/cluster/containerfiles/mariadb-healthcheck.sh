#!/bin/bash
# The subset of the official image's healthcheck.sh that k8s/base/mysql.yaml uses:
#   --connect             the server accepts a connection (as the local healthcheck account)
#   --innodb_initialized  InnoDB is up
set -euo pipefail
client=(mariadb --defaults-extra-file=/var/lib/mysql/.my-healthcheck.cnf -sN)
for check in "$@"; do
    case $check in
    --connect) "${client[@]}" -e 'SELECT 1' >/dev/null ;;
    --innodb_initialized)
        [[ $("${client[@]}" -e "SELECT 1 FROM information_schema.ENGINES WHERE engine = 'InnoDB' AND support IN ('YES', 'DEFAULT', 'ENABLED')") == 1 ]] ;;
    *) echo "healthcheck.sh: unknown check $check (known: --connect --innodb_initialized)" >&2; exit 2 ;;
    esac
done
