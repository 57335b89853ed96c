# syntax=docker/dockerfile:1
#
# kubeface images. Two targets:
#
#   app             (default, CPU)  docker build -t ghcr.io/kubeface/kubeface:0.1.0 .
#   recognizer-gpu  (CUDA dlib)     docker build --target recognizer-gpu -t ghcr.io/kubeface/kubeface-recognizer-gpu:0.1.0 .
#
# One CPU image serves every service and job: they share one package, one set of pinned
# dependencies and one console script, and differ only in the subcommand passed as args
# (`receiver`, `processor`, `recognizer`, `frontend`, `retry`, `migrate`). One image means one
# build, one scan, one tag to roll, and nodes pull the ~400 MB face models layer once.
# Only the GPU recognizer needs a different base (CUDA) and a dlib compiled against it.
#
# Python dependencies are installed as `make` does: face_recognition with --no-deps (it declares
# `dlib`), then the project's pins, which include setuptools<81 (face_recognition_models imports
# pkg_resources). One difference: where `make` takes dlib-bin (prebuilt, no BLAS; quick for
# tests), the CPU image compiles dlib against OpenBLAS by default (DLIB=openblas, as `make
# dlib-openblas`, the recommended install): it encodes faces 4.6x faster, and, compiled for
# x86-64-v3 (AVX2, FMA), its HOG detection runs faster too (README, Performance). Such an image
# needs an x86-64-v3 node (Intel Haswell, AMD Zen or later); the recognizer says so at start on an
# older one. --build-arg DLIB_X86_64_LEVEL=x86-64-v2 builds for older nodes; --build-arg DLIB=bin
# keeps dlib-bin instead (any x86-64): a one-minute build, which tests use.
#
# The base images are build ARGs, so that locally made ones can stand in where a registry cannot
# be reached: `make image` (tools/image/) builds a Python base from a debootstrapped Debian and
# passes it as PYTHON_IMAGE.

ARG PYTHON_IMAGE=python:3.11.13-slim-bookworm
ARG CUDA_DEVEL_IMAGE=nvidia/cuda:12.6.3-cudnn-devel-ubuntu24.04
ARG CUDA_RUNTIME_IMAGE=nvidia/cuda:12.6.3-cudnn-runtime-ubuntu24.04
# The CPU image's dlib: openblas (compiled, the recommended install for serving) or bin (the
# dlib-bin wheel: no compile, a one-minute build; what `make image` and the tests use).
ARG DLIB=openblas
# The x86-64 level the OpenBLAS dlib is compiled for (tools/build-dlib-openblas.sh).
ARG DLIB_X86_64_LEVEL=x86-64-v3

############################ GPU recognizer ############################

# Compile dlib 20.0.1 from the sdist with CUDA + cuDNN, then install everything else with
# dlib-bin left out (it would shadow the CUDA build with the CPU one). Ubuntu 24.04's
# Python is 3.12, which pyproject.toml allows (>=3.11,<3.13); every pin has 3.12 wheels.
FROM ${CUDA_DEVEL_IMAGE} AS gpu-builder
ENV DEBIAN_FRONTEND=noninteractive PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 python3-venv python3-dev build-essential cmake \
 && rm -rf /var/lib/apt/lists/*
RUN python3 -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH
# dlib's CMake sets DLIB_USE_CUDA=ON by default and drops it only when it cannot find CUDA
# and cuDNN (both in this base); the import check fails the build if it fell back to CPU.
# No image codecs, GUI or sqlite in dlib (its setup.py hands DLIB_* variables to CMake): the
# recognizer decodes with Pillow, and dlib's own libpng/libjpeg beside OpenCV's are the first
# suspect for the crashes of the first CUDA build (README, GPU); tools/gpu-bench.sh builds alike.
RUN DLIB_PNG_SUPPORT=OFF DLIB_JPEG_SUPPORT=OFF DLIB_GIF_SUPPORT=OFF DLIB_WEBP_SUPPORT=OFF \
    DLIB_JXL_SUPPORT=OFF DLIB_NO_GUI_SUPPORT=ON DLIB_LINK_WITH_SQLITE3=OFF \
    pip install --no-binary dlib dlib==20.0.1 \
 && python -c "import dlib, sys; sys.exit(0 if dlib.DLIB_USE_CUDA else 'dlib was built without CUDA')"
WORKDIR /src
COPY pyproject.toml ./
# Every pinned runtime dependency except dlib-bin, read from pyproject.toml.
RUN python -c "import tomllib; deps = tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies']; open('/tmp/requirements.txt', 'w').write('\n'.join(d for d in deps if not d.lower().startswith('dlib-bin')) + '\n')" \
 && pip install -r /tmp/requirements.txt \
 && pip install --no-deps face_recognition==1.3.0
COPY kubeface ./kubeface
COPY receiver ./receiver
COPY processor ./processor
COPY recognizer ./recognizer
COPY frontend ./frontend
# The import check leaves out face_recognition: importing it loads the CNN model into CUDA.
RUN pip install --no-deps . \
 && python -c "import dlib, face_recognition_models, recognizer.server, kubeface.cli"

FROM ${CUDA_RUNTIME_IMAGE} AS recognizer-gpu
ENV DEBIAN_FRONTEND=noninteractive
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --system --gid 10001 kubeface \
 && useradd --system --uid 10001 --gid 10001 --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin kubeface
COPY --from=gpu-builder /opt/venv /opt/venv
COPY migrations /app/migrations
# HOME=/tmp: the root filesystem is read-only in Kubernetes and /tmp is the writable emptyDir.
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    HOME=/tmp \
    BIND_HOST=0.0.0.0 \
    IMAGE_ROOT=/data/images \
    MIGRATIONS_DIR=/app/migrations \
    DETECTION_MODEL=cnn
WORKDIR /app
USER 10001:10001
EXPOSE 50051 9102
ENTRYPOINT ["kubeface"]
CMD ["recognizer"]

############################ CPU app (default) ############################

# dlib against OpenBLAS, with the same script as `make dlib-openblas` (about 14 minutes on
# 2 cores; this layer changes only with the script).
# PIP_CERT: pip trusts the system CA bundle rather than its own, so that a build behind a
# TLS-inspecting proxy can bind-mount the host's bundle over it (tools/image/build.sh) without
# copying it into a layer. Only build stages set it; the final image runs no pip.
FROM ${PYTHON_IMAGE} AS dlib-openblas
ARG DLIB_X86_64_LEVEL
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_CERT=/etc/ssl/certs/ca-certificates.crt
COPY tools/build-dlib-openblas.sh /tmp/
RUN PYTHON=python DLIB_X86_64_LEVEL=${DLIB_X86_64_LEVEL} /tmp/build-dlib-openblas.sh /wheels

# dlib-bin: the prebuilt wheel pinned in pyproject.toml (no BLAS), so nothing to compile here.
FROM ${PYTHON_IMAGE} AS dlib-bin
RUN mkdir /wheels

# The dlib build chosen by DLIB: its /wheels holds the OpenBLAS wheel, or nothing.
# hadolint ignore=DL3006
FROM dlib-${DLIB} AS dlib

FROM ${PYTHON_IMAGE} AS builder
ARG DLIB
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_CERT=/etc/ssl/certs/ca-certificates.crt
RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH
WORKDIR /src
# Dependencies first, from pyproject.toml alone, so code changes reuse this (large) layer.
# With the OpenBLAS wheel, every pin but dlib-bin, which would shadow it.
COPY pyproject.toml ./
COPY --from=dlib /wheels /wheels
RUN python -c "import glob, sys, tomllib; keep_bin = sys.argv[1] == 'bin'; deps = tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies']; deps = [d for d in deps if keep_bin or not d.lower().startswith('dlib-bin')] + glob.glob('/wheels/dlib-*.whl'); open('/tmp/requirements.txt', 'w').write('\n'.join(deps) + '\n')" "$DLIB" \
 && pip install --no-deps face_recognition==1.3.0 \
 && pip install -r /tmp/requirements.txt
COPY kubeface ./kubeface
COPY receiver ./receiver
COPY processor ./processor
COPY recognizer ./recognizer
COPY frontend ./frontend
RUN pip install --no-deps .

# What the app needs at run time besides its venv: an unprivileged account, and for the
# OpenBLAS dlib, libopenblas. No compiler, no headers.
FROM ${PYTHON_IMAGE} AS runtime-bin
RUN groupadd --system --gid 10001 kubeface \
 && useradd --system --uid 10001 --gid 10001 --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin kubeface

FROM runtime-bin AS runtime-openblas
RUN apt-get update \
 && apt-get install -y --no-install-recommends libopenblas0-pthread \
 && rm -rf /var/lib/apt/lists/*

# hadolint ignore=DL3006
FROM runtime-${DLIB} AS app
ARG DLIB
COPY --from=builder /opt/venv /opt/venv
COPY migrations /app/migrations
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    HOME=/tmp \
    BIND_HOST=0.0.0.0 \
    IMAGE_ROOT=/data/images \
    MIGRATIONS_DIR=/app/migrations \
    OPENBLAS_NUM_THREADS=1
# Fails the build if the OpenBLAS dlib lost its BLAS or cannot load libopenblas.
RUN python -c "import sys, dlib, face_recognition, recognizer.server, kubeface.cli; print('dlib', dlib.__version__, 'DLIB_USE_BLAS =', dlib.DLIB_USE_BLAS); sys.exit(0 if dlib.DLIB_USE_BLAS or sys.argv[1] == 'bin' else 'dlib was built without BLAS')" "$DLIB"
WORKDIR /app
USER 10001:10001
EXPOSE 8000 8081 50051 9101 9102
ENTRYPOINT ["kubeface"]
CMD ["--help"]
