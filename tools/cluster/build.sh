#!/usr/bin/env bash
# Build the one-node cluster's programs once, into a folder keyed by version (default
# .cache/kubernetes-v1.31.4/): kube-apiserver, kubelet, kube-controller-manager,
# kube-scheduler, kube-proxy and kubectl from tools/kubernetes-v1.31.4 (a scratch module:
# k8s.io/kubernetes cannot be `go install`ed, its go.mod replaces the staging modules with
# local folders), CoreDNS, and kube-router (for its NetworkPolicy controller). A binary already there is kept, so a second run is instant.
#
# Why from the Go module proxy: no release download (dl.k8s.io, GitHub) is reachable here,
# Debian has no kube-apiserver or kubelet, and the proxy refuses k3s and k0s (403).
# Why v1.31.4 and not a newer 1.31.x: some staging zips of v1.31.14 answer 403.
# About 8 minutes with an empty Go build cache on 2 idle cores (24 minutes measured while the
# machine was busy compiling other things); CoreDNS and kube-router a few minutes each.
set -euo pipefail

K8S_VERSION=v1.31.4
COREDNS_VERSION=v1.11.3
KUBE_ROUTER_VERSION=v2.1.0

here=$(cd "$(dirname "$0")/.." && pwd)
out=$(realpath -m "${1:-$here/../.cache/kubernetes-$K8S_VERSION}")
mkdir -p "$out"
export CGO_ENABLED=0 GOFLAGS=-buildvcs=false

# Without the version flags the binaries report v0.0.0-master, and kubectl fails to parse
# the server's version.
minor=${K8S_VERSION#v1.}; minor=${minor%%.*}
ldflags="-s -w -X k8s.io/component-base/version.gitVersion=$K8S_VERSION \
-X k8s.io/component-base/version.gitMajor=1 -X k8s.io/component-base/version.gitMinor=$minor"

missing=()
for cmd in kube-apiserver kubelet kube-controller-manager kube-scheduler kube-proxy kubectl; do
    [[ -x "$out/$cmd" ]] || missing+=("k8s.io/kubernetes/cmd/$cmd")
done
if ((${#missing[@]})); then
    echo "building ${missing[*]##*/} ($K8S_VERSION) into $out"
    (cd "$here/kubernetes-$K8S_VERSION" && go build -trimpath -ldflags "$ldflags" -o "$out/" "${missing[@]}")
fi
if [[ ! -x "$out/coredns" ]]; then
    # CoreDNS has no replace directive: plain `go install pkg@version` works.
    echo "building coredns $COREDNS_VERSION into $out"
    GOBIN="$out" go install -trimpath -ldflags "-s -w" "github.com/coredns/coredns@$COREDNS_VERSION"
fi
if [[ ! -x "$out/kube-router" ]]; then
    # Only its NetworkPolicy controller runs (up.sh). About as long as CoreDNS to build.
    echo "building kube-router $KUBE_ROUTER_VERSION into $out"
    GOBIN="$out" go install -trimpath -ldflags "-s -w" \
        "github.com/cloudnativelabs/kube-router/v2/cmd/kube-router@$KUBE_ROUTER_VERSION"
fi
"$out/kubectl" version --client
