#!/usr/bin/env bash
# Install MariaDB from Debian without starting the machine's shared server: we run private ones.
set -euo pipefail
sudo=""; [ "$(id -u)" = 0 ] || sudo="sudo"
$sudo apt-get update -qq
policy=/usr/sbin/policy-rc.d
created=""
if [ ! -e $policy ]; then
    printf '#!/bin/sh\nexit 101\n' | $sudo tee $policy >/dev/null && $sudo chmod +x $policy && created=1
fi
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq mariadb-server mariadb-client >/dev/null
[ -n "$created" ] && $sudo rm -f $policy
echo "MariaDB installed: $(/usr/sbin/mariadbd --version)"
