#!/usr/bin/env bash
# Build the Kubernetes manifest tools with Go into the given folder (default .bin/):
#   kustomize         the newest kustomize (renders k8s/overlays/*)  sigs.k8s.io/kustomize/kustomize/v5
#   kustomize-v5.0.4  the oldest we support: the one in kubectl 1.30 (tools/kustomize-v5.0.4/go.mod)
#   kube-score        policy lint of the rendered manifests           github.com/zegl/kube-score
# tests/k8s renders every overlay with both kustomize builds and requires the same output: the
# README promises Kubernetes 1.30+, and `kubectl apply -k` uses the kustomize built into kubectl.
# A binary that is already there is kept (kustomize: if it is the version below), so running
# this twice is cheap.
#
# Why kube-score and not kube-linter: the Go module proxy that this project's machines reach
# refuses every version of golang.stackrox.io/kube-linter (403), so it cannot be built here.
# kustomize and kube-score have no `replace` directive, so plain `go install pkg@version` works
# (unlike nsq and kubectl's kustomize: see tools/install-nsq.sh). Versions are exact because the
# proxy refuses `@v/list`; v5.8.1 is the newest kustomize it has (v5.9.0: not available).
set -euo pipefail

KUSTOMIZE_VERSION=v5.8.1
KUBE_SCORE_VERSION=v1.20.0

here=$(cd "$(dirname "$0")" && pwd)
out=$(realpath -m "${1:-$here/../.bin}")
mkdir -p "$out"
export GOFLAGS=-buildvcs=false

build() { # build NAME PACKAGE@VERSION [VERSION that `NAME version` prints]
    if [[ -x "$out/$1" && ( -z "${3:-}" || "$("$out/$1" version 2>/dev/null)" == "$3" ) ]]; then
        echo "$1: already in $out"
        return
    fi
    echo "$1: go install $2"
    GOBIN="$out" go install "$2"
}

build kustomize "sigs.k8s.io/kustomize/kustomize/v5@${KUSTOMIZE_VERSION}" "$KUSTOMIZE_VERSION"
build kube-score "github.com/zegl/kube-score/cmd/kube-score@${KUBE_SCORE_VERSION}"
if [[ -x "$out/kustomize-v5.0.4" ]]; then
    echo "kustomize-v5.0.4: already in $out"
else
    echo "kustomize-v5.0.4: go build in tools/kustomize-v5.0.4"
    (cd "$here/kustomize-v5.0.4" && go build -o "$out/kustomize-v5.0.4" sigs.k8s.io/kustomize/kustomize/v5)
fi

"$out/kustomize" version
