#!/usr/bin/env bash
# Regenerate the gRPC stubs from protos/ into kubeface/proto/ (imports resolve as kubeface.proto.*).
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-.}
python -m grpc_tools.protoc -I protos --python_out="$out" --pyi_out="$out" --grpc_python_out="$out" \
    protos/kubeface/proto/recognizer.proto
