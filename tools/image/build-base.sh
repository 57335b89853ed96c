#!/usr/bin/env bash
# Build, once, the base images the project's Dockerfile needs when no registry can be reached:
#   DEBIAN_IMAGE  a minimal bookworm from debootstrap (the host's Debian mirror), podman-imported;
#   PYTHON_IMAGE  Debian's python3 + pip + venv on top of it (python-base.Containerfile).
# Each is skipped when podman already has it. Prints the seconds each step took.
# Usage: tools/image/build-base.sh   (DEBIAN_IMAGE, PYTHON_IMAGE, SUITE override the defaults)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
suite=${SUITE:-bookworm}
debian_image=${DEBIAN_IMAGE:-localhost/debian:$suite}
python_image=${PYTHON_IMAGE:-localhost/kubeface/python:3.11-$suite}

# The first Debian archive (and security archive) the host's apt uses, deb822 or one-line style.
apt_uris() {
    { cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources 2>/dev/null || true; } \
        | sed -nE 's/^URIs:[[:space:]]*//p; s/^deb[[:space:]]+(\[[^]]*\][[:space:]]+)?([^[:space:]]+).*/\2/p' \
        | tr ' ' '\n'
}
mirror=${DEBIAN_MIRROR:-$(apt_uris | grep -E '/debian/?$' | head -1)}
security=$(apt_uris | grep -E '/debian-security/?$' | head -1 || true)
[ -n "$mirror" ] || { echo "no Debian mirror in /etc/apt/sources.list*; set DEBIAN_MIRROR" >&2; exit 1; }

if podman image exists "$debian_image"; then
    echo "base $debian_image: already built"
else
    start=$SECONDS
    rootfs=$(mktemp -d /var/tmp/kubeface-rootfs.XXXXXX)
    trap 'rm -rf "$rootfs"' EXIT
    debootstrap --variant=minbase "$suite" "$rootfs" "$mirror" >"$rootfs.log" 2>&1 \
        || { tail -30 "$rootfs.log"; exit 1; }
    # Updates and security fixes too, from the same archives as the host.
    {
        echo "deb $mirror $suite main"
        echo "deb $mirror $suite-updates main"
        [ -z "$security" ] || echo "deb $security $suite-security main"
    } >"$rootfs/etc/apt/sources.list"
    rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/*
    tar -C "$rootfs" -c . | podman import --quiet - "$debian_image" >/dev/null
    rm -f "$rootfs.log"
    echo "base $debian_image: debootstrap + import in $((SECONDS - start)) s"
fi

if podman image exists "$python_image"; then
    echo "base $python_image: already built"
else
    start=$SECONDS
    podman build --quiet --build-arg DEBIAN_IMAGE="$debian_image" -t "$python_image" \
        -f "$here/python-base.Containerfile" "$here" >/dev/null
    echo "base $python_image: built in $((SECONDS - start)) s"
fi
