#!/usr/bin/env bash
# Install Debian packages without starting their services (MariaDB, Prometheus): the project
# runs private servers of its own, and must never start or use the machine's shared ones.
# Usage: tools/apt-install.sh PACKAGE...
set -euo pipefail
[ $# -gt 0 ] || { echo "usage: $0 PACKAGE..." >&2; exit 2; }
sudo=""; [ "$(id -u)" = 0 ] || sudo="sudo"
$sudo apt-get update -qq
policy=/usr/sbin/policy-rc.d
created=""
if [ ! -e $policy ]; then
    printf '#!/bin/sh\nexit 101\n' | $sudo tee $policy >/dev/null && $sudo chmod +x $policy && created=1
fi
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "$@" >/dev/null
[ -n "$created" ] && $sudo rm -f $policy
echo "installed: $*"
