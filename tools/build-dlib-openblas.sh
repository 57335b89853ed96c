#!/usr/bin/env bash
# Build a dlib wheel linked against OpenBLAS and compiled for x86-64-v3 (AVX2, FMA) into a cache
# folder, once (about 14 minutes on 2 cores). dlib-bin, the default, has no BLAS and stops at AVX.
#
# Why both: BLAS makes the face encoder 4.6x faster; the HOG detector calls no BLAS, its speed is
# the compiler's (fhog's 8-wide integer SIMD is emulated with two 128-bit halves under AVX alone):
# -march=x86-64-v3 makes it about 2.3x faster than the -mavx that dlib's setup.py turns on.
# The level goes into the wheel's version (20.0.1+openblas.x86.64.v3), where the recognizer reads
# it before importing dlib (kubeface/dlib_build.py), so a CPU below the level gets a clear error.
#
# Usage: tools/build-dlib-openblas.sh [OUT_DIR]   (prints the wheel's path on its last line)
#   PYTHON selects the interpreter (default .venv/bin/python); DLIB_X86_64_LEVEL the level
#   (x86-64-v3, default; x86-64-v2 or x86-64 for older nodes; x86-64-v4 adds AVX-512).
set -euo pipefail
version=20.0.1
level=${DLIB_X86_64_LEVEL:-x86-64-v3}
local_version="openblas.${level//-/.}"
# The folder is named after the flags: a wheel built with others is never taken for this one.
out=${1:-.cache/dlib-openblas-$version-$level}
python=${PYTHON:-.venv/bin/python}

if compgen -G "$out/dlib-$version+$local_version-*.whl" >/dev/null; then
    echo "dlib $version ($local_version) already built:"
    compgen -G "$out/dlib-$version+$local_version-*.whl"
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
rm -rf "$out.tmp" && mkdir -p "$out.tmp"
# The sdist, unpacked, so that its version can carry the build's level.
"$python" -m pip download -q --no-deps --no-binary dlib "dlib==$version" -d "$out.tmp"
tar -xzf "$out.tmp/dlib-$version.tar.gz" -C "$out.tmp"
sed -i "s/version=read_version_from_cmakelists('dlib\/CMakeLists.txt')/version='$version+$local_version'/" \
    "$out.tmp/dlib-$version/setup.py"
grep -q "version='$version+$local_version'" "$out.tmp/dlib-$version/setup.py" \
    || { echo "dlib's setup.py no longer sets its version as expected" >&2; exit 1; }
# setup.py passes DLIB_* variables to CMake; CUDA stays off here (a CUDA build needs nvcc and cuDNN).
export DLIB_USE_CUDA=${DLIB_USE_CUDA:-OFF}
export CMAKE_BUILD_PARALLEL_LEVEL=${CMAKE_BUILD_PARALLEL_LEVEL:-$(nproc)}
# CMake starts CMAKE_CXX_FLAGS from CXXFLAGS; dlib adds its -mavx after, which keeps AVX2 and FMA.
export CXXFLAGS="-march=$level ${CXXFLAGS:-}" CFLAGS="-march=$level ${CFLAGS:-}"
export VERBOSE=1 # make prints each compile command: the log shows the flags every file got
# --no-cache-dir: a wheel pip built earlier (other flags, no BLAS) must not stand in for this one.
"$python" -m pip wheel -v --no-cache-dir --no-deps "$out.tmp/dlib-$version" -w "$out.tmp/wheel" >"$out/build.log" 2>&1 \
    || { tail -40 "$out/build.log"; exit 1; }
grep -E "BLAS|LAPACK|AVX" "$out/build.log" | awk 'length < 200' | sort -u || true
grep -q -- "-march=$level" "$out/build.log" || { echo "the compiler was not given -march=$level" >&2; exit 1; }
mv "$out.tmp"/wheel/dlib-"$version"+"$local_version"-*.whl "$out"/ && rm -rf "$out.tmp"
echo "built:"
compgen -G "$out/dlib-$version+$local_version-*.whl"
