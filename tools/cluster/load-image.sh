#!/usr/bin/env bash
# Copy podman images into the one-node cluster's containerd (namespace k8s.io, the one the
# kubelet uses), under the same names: `podman save --format oci-archive`, then `ctr import`.
# Pods can use them with imagePullPolicy IfNotPresent or Never (no registry to pull from; a
# `:latest` tag defaults to Always, so give such images another tag). About 70 s per GB.
# Usage: tools/cluster/load-image.sh IMAGE...   e.g. localhost/kubeface:dev
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=env.sh
source "$here/env.sh"
[[ $# -gt 0 ]] || { echo "usage: $0 IMAGE... (podman image names)" >&2; exit 2; }
running containerd || { echo "the cluster is not running: make cluster" >&2; exit 1; }
ctr=(ctr --address "$CONTAINERD_SOCK" -n k8s.io)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
for image in "$@"; do
    # podman's full name (localhost/x:tag, docker.io/library/x:tag): the name the CRI matches.
    name=$(podman image inspect --format '{{index .RepoTags 0}}' "$image") ||
        { echo "no podman image $image (podman images lists them)" >&2; exit 1; }
    podman save -q --format oci-archive -o "$work/image.tar" "$name"
    "${ctr[@]}" images import "$work/image.tar" >/dev/null
    rm -f "$work/image.tar"
    names=$("${ctr[@]}" images ls -q) # whole: an early-exiting grep -q would fail the pipe
    grep -qxF "$name" <<<"$names" || { echo "import of $image did not yield $name" >&2; exit 1; }
    echo "loaded $name"
done
