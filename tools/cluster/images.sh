#!/usr/bin/env bash
# Build the images the cluster cannot pull (`make cluster-images`) with podman, and load them
# into the running cluster's containerd:
#   localhost/mariadb:10.11   Debian bookworm's MariaDB (containerfiles/mariadb.Containerfile)
#   localhost/nsq:v1.3.0      the project's own nsqd and nsqlookupd build (containerfiles/nsq.Containerfile)
# Both start FROM localhost/debian:bookworm, a debootstrap root filesystem imported into podman
# (made here if it is not there yet; the project's image build makes the same one).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=env.sh
source "$here/env.sh"
BASE=localhost/debian:bookworm
MARIADB_IMAGE=localhost/mariadb:10.11
NSQ_IMAGE=localhost/nsq:v1.3.0
# crun fails here (no CAP_SYS_RESOURCE for its rlimits; hybrid cgroups): runc and cgroupfs,
# with limits within the hard nofile limit, given per command so no machine config changes.
podman=(podman --runtime runc --cgroup-manager cgroupfs)
build=(build --ulimit nofile=20000:20000 --ulimit nproc=20000:20000 --build-arg "BASE=$BASE")

if ! podman image exists "$BASE"; then
    mirror=$(grep -rhoE '^(URIs:|deb) +https?://[^ ]+/debian/?' /etc/apt/sources.list /etc/apt/sources.list.d/ 2>/dev/null |
        awk '{print $2}' | head -1)
    rootfs=$(mktemp -d)
    debootstrap --variant=minbase bookworm "$rootfs" "${mirror:-http://deb.debian.org/debian}" >/dev/null
    tar -C "$rootfs" -c . | podman import - "$BASE" >/dev/null
    rm -rf "$rootfs"
fi

[[ -x $REPO/.bin/nsqd && -x $REPO/.bin/nsqlookupd ]] || "$REPO/tools/install-nsq.sh" "$REPO/.bin"
context=$(mktemp -d)
trap 'rm -rf "$context"' EXIT
# Real files, not .bin's links: podman copies a link as a link.
cp -L "$REPO/.bin/nsqd" "$REPO/.bin/nsqlookupd" "$context/"
"${podman[@]}" "${build[@]}" -f "$here/containerfiles/nsq.Containerfile" -t "$NSQ_IMAGE" "$context"
"${podman[@]}" "${build[@]}" -f "$here/containerfiles/mariadb.Containerfile" -t "$MARIADB_IMAGE" "$here/containerfiles"

if running containerd; then
    "$here/load-image.sh" "$NSQ_IMAGE" "$MARIADB_IMAGE"
else
    echo "built $NSQ_IMAGE $MARIADB_IMAGE; the cluster is not running: make cluster, then make cluster-images"
fi
