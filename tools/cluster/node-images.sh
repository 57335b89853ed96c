#!/usr/bin/env bash
# Put the images the node itself needs into the cluster's containerd, once:
#   localhost/pause:3.10      every pod sandbox's first process: a static C program that only
#                             waits for a signal (about 700 KB);
#   localhost/coredns:1.11.3  the cluster DNS (coredns.yaml), the static CoreDNS build.
# No registry is reachable, so both are made here: imported into podman from a one-file root
# filesystem, then handed over as OCI archives (load-image.sh).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=env.sh
source "$here/env.sh"
ctr=(ctr --address "$CONTAINERD_SOCK" -n k8s.io)
# (The list is read whole first: grep -q stopping early would fail the pipe under pipefail.)
have() { local names; names=$("${ctr[@]}" images ls -q); grep -qxF "$1" <<<"$names"; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

if ! have "$PAUSE_IMAGE"; then
    cat >"$work/pause.c" <<'C'
#include <signal.h>
#include <unistd.h>
/* Exit on SIGTERM or SIGINT, as Kubernetes' pause does, rather than wait to be killed. */
static void quit(int sig) { (void)sig; _exit(0); }
int main(void) {
    signal(SIGTERM, quit);
    signal(SIGINT, quit);
    for (;;) pause();
}
C
    mkdir "$work/pause"
    gcc -static -Os -s -o "$work/pause/pause" "$work/pause.c"
    tar -C "$work/pause" -c . | podman import --change 'ENTRYPOINT ["/pause"]' - "$PAUSE_IMAGE" >/dev/null
    "$here/load-image.sh" "$PAUSE_IMAGE"
fi
if ! have "$COREDNS_IMAGE"; then
    mkdir "$work/coredns"
    cp "$K8S_BIN/coredns" "$work/coredns/coredns"
    tar -C "$work/coredns" -c . | podman import --change 'ENTRYPOINT ["/coredns"]' - "$COREDNS_IMAGE" >/dev/null
    "$here/load-image.sh" "$COREDNS_IMAGE"
fi
