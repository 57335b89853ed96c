#!/usr/bin/env bash
# Build the kubeface CPU image with podman from the project's Dockerfile, FROM the local Python
# base (build-base.sh), and print its build time and size.
#   DLIB=bin       (default) the dlib-bin wheel: about a minute; tagged kubeface:dev
#   DLIB=openblas  dlib compiled against OpenBLAS: about 14 minutes more; tagged kubeface:dev-openblas
# Each tag is given twice, localhost/NAME and docker.io/library/NAME: Kubernetes reads the
# overlay's `kubeface:dev` as docker.io/library/kubeface:dev, the name to import into containerd.
# pip needs the host's CA bundle (registry traffic may pass a TLS-inspecting proxy): it is
# bind-mounted, read-only, over the image's own bundle for each RUN step (the Dockerfile's
# PIP_CERT points pip there), never copied into a layer. The mount target must already exist:
# buildah 1.28 leaves an empty file in the layer for each mount point it has to create.
# The build log goes to LOG_DIR/build-DLIB.log.
set -euo pipefail
cd "$(dirname "$0")/../.."
dlib=${DLIB:-bin}
case $dlib in
    bin) tag=dev ;;
    openblas) tag=dev-openblas ;;
    *) echo "DLIB=$dlib: choose bin (dlib-bin, quick) or openblas (compiled, about 14 minutes)" >&2; exit 2 ;;
esac
name=${IMAGE_NAME:-kubeface}
python_image=${PYTHON_IMAGE:-localhost/kubeface/python:3.11-bookworm}
host_ca=${HOST_CA:-/etc/ssl/certs/ca-certificates.crt}
log_dir=${LOG_DIR:-test-artifacts/image}
mkdir -p "$log_dir"
log="$log_dir/build-$dlib.log"

mounts=()
[ ! -f "$host_ca" ] || mounts=(-v "$host_ca:/etc/ssl/certs/ca-certificates.crt:ro")

start=$SECONDS
podman build --layers \
    --build-arg PYTHON_IMAGE="$python_image" --build-arg DLIB="$dlib" \
    "${mounts[@]}" \
    -t "localhost/$name:$tag" -t "docker.io/library/$name:$tag" \
    -f Dockerfile . 2>&1 | tee "$log"
seconds=$((SECONDS - start))
bytes=$(podman image inspect --format '{{.Size}}' "localhost/$name:$tag")
echo "image localhost/$name:$tag = docker.io/library/$name:$tag (DLIB=$dlib):" \
    "built in $seconds s, $((bytes / 1000000)) MB; log: $log" | tee -a "$log"
