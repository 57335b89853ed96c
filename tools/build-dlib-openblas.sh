#!/usr/bin/env bash
# Build a dlib wheel linked against OpenBLAS into a cache folder, once (about 14 minutes on 2 cores).
# dlib-bin, the default, has no BLAS; this wheel encodes faces several times faster.
# Usage: tools/build-dlib-openblas.sh [OUT_DIR]   (PYTHON selects the interpreter, default .venv/bin/python)
set -euo pipefail
version=20.0.1
out=${1:-.cache/dlib-openblas}
python=${PYTHON:-.venv/bin/python}

if compgen -G "$out/dlib-$version-*.whl" >/dev/null; then
    echo "dlib $version (OpenBLAS) already built: $(compgen -G "$out/dlib-$version-*.whl")"
    exit 0
fi
packages="libopenblas-dev liblapack-dev cmake g++ make"
# Debian's python3 keeps Python.h in python3-dev (python.org builds ship it): the image's Debian base.
"$python" -c 'import os, sys, sysconfig; sys.exit(not os.path.exists(os.path.join(sysconfig.get_paths()["include"], "Python.h")))' \
    || packages="$packages python3-dev"
# shellcheck disable=SC2086 # one word per package
if ! dpkg -s $packages >/dev/null 2>&1; then
    sudo=""; [ "$(id -u)" = 0 ] || sudo=sudo
    $sudo apt-get update -qq
    $sudo apt-get install -y -qq --no-install-recommends $packages
fi
mkdir -p "$out"
# setup.py passes DLIB_* variables to CMake; CUDA stays off here (a CUDA build needs nvcc and cuDNN).
export DLIB_USE_CUDA=${DLIB_USE_CUDA:-OFF}
export CMAKE_BUILD_PARALLEL_LEVEL=${CMAKE_BUILD_PARALLEL_LEVEL:-$(nproc)}
# --no-cache-dir: a wheel pip built earlier (other flags, no BLAS) must not stand in for this one.
"$python" -m pip wheel -v --no-cache-dir --no-deps --no-binary dlib "dlib==$version" -w "$out.tmp" >"$out/build.log" 2>&1 \
    || { tail -40 "$out/build.log"; exit 1; }
grep -E "BLAS|LAPACK|AVX" "$out/build.log" | sort -u || true
mv "$out.tmp"/dlib-"$version"-*.whl "$out"/ && rmdir "$out.tmp"
echo "built $(compgen -G "$out/dlib-$version-*.whl")"
