#!/usr/bin/env bash
# `make k8s-e2e`: the whole rollout test from whatever is there, timing each step.
#   1. a one-node cluster (make cluster), unless one answers already;
#   2. the images (make image; make cluster-images builds MariaDB and nsq and loads them);
#   3. the kubeface image loaded into the node's containerd;
#   4. tests/k8s_e2e: kubectl apply -k k8s/overlays/local, rollouts and scaling under load.
# KUBECONFIG defaults to the one `make cluster` writes. Extra pytest arguments: PYTEST_ARGS.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
cd "$repo"
export KUBECONFIG=${KUBECONFIG:-$repo/.state/cluster/admin.kubeconfig}
# The cluster's own kubectl (v1.31, built by make cluster) before any other on PATH.
export PATH=$repo/.cache/kubernetes-v1.31.4:$repo/.bin:$PATH
started=$SECONDS
step() {
    local t=$SECONDS
    "$@"
    echo "k8s-e2e: '$*' took $((SECONDS - t)) s" >&2
}
kubectl get nodes >/dev/null 2>&1 || step make cluster
step make image
step make cluster-images
step tools/cluster/load-image.sh localhost/kubeface:dev
# shellcheck disable=SC2086 # PYTEST_ARGS is a list of arguments
step env K8S_E2E=1 .venv/bin/python -m pytest tests/k8s_e2e -m k8s_e2e -rP -p no:cacheprovider ${PYTEST_ARGS:-}
echo "k8s-e2e: all steps took $((SECONDS - started)) s" >&2
