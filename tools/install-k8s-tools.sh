#!/usr/bin/env bash
# Build the Kubernetes manifest tools with Go into the given folder (default .bin/):
#   kustomize  (renders k8s/overlays/*)        sigs.k8s.io/kustomize/kustomize/v5
#   kube-score (policy lint of the rendered manifests)  github.com/zegl/kube-score
# A binary that is already there is kept, so running this twice is cheap.
#
# Why kube-score and not kube-linter: the Go module proxy that this project's machines reach
# refuses every version of golang.stackrox.io/kube-linter (403), so it cannot be built here.
# Neither module has a `replace` directive, so plain `go install pkg@version` works for both
# (unlike nsq: see tools/install-nsq.sh). Versions are exact because the proxy refuses `@v/list`.
set -euo pipefail

KUSTOMIZE_VERSION=v5.8.0
KUBE_SCORE_VERSION=v1.20.0

out=$(realpath -m "${1:-$(dirname "$0")/../.bin}")
mkdir -p "$out"

build() { # build NAME PACKAGE@VERSION
    if [[ -x "$out/$1" ]]; then
        echo "$1: already in $out"
        return
    fi
    echo "$1: go install $2"
    GOBIN="$out" GOFLAGS=-buildvcs=false go install "$2"
}

build kustomize "sigs.k8s.io/kustomize/kustomize/v5@${KUSTOMIZE_VERSION}"
build kube-score "github.com/zegl/kube-score/cmd/kube-score@${KUBE_SCORE_VERSION}"

"$out/kustomize" version
