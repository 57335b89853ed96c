#!/usr/bin/env bash
# Put the pause image (every pod sandbox's first process) into the cluster's containerd, once.
# No registry is reachable, so it is built here: a static C program that only waits for a
# signal (about 700 KB), imported with podman and handed over as an OCI archive.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=env.sh
source "$here/env.sh"
ctr=(ctr --address "$CONTAINERD_SOCK" -n k8s.io)
"${ctr[@]}" images ls -q | grep -qxF "$PAUSE_IMAGE" && exit 0

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
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
mkdir "$work/rootfs"
gcc -static -Os -s -o "$work/rootfs/pause" "$work/pause.c"
tar -C "$work/rootfs" -c . | podman import --change 'ENTRYPOINT ["/pause"]' - "$PAUSE_IMAGE" >/dev/null
podman save -q --format oci-archive -o "$work/pause.tar" "$PAUSE_IMAGE"
"${ctr[@]}" images import "$work/pause.tar" >/dev/null
"${ctr[@]}" images ls -q | grep -qxF "$PAUSE_IMAGE" || { echo "pause image not imported" >&2; exit 1; }
echo "imported $PAUSE_IMAGE"
