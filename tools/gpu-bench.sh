#!/usr/bin/env bash
# The benchmark's GPU section (bench/gpu.py) on a machine with an NVIDIA GPU, nvcc and cuDNN but
# no network: builds dlib 20.0.1 with CUDA for that machine's python3, then times the recognizer's
# CNN pipeline on the GPU against dlib-bin on one CPU core of the same machine.
# Usage: tools/gpu-bench.sh CARRY OUT
#   CARRY holds what cannot be fetched there: dlib-20.0.1.tar.gz; whl/ (cp312 wheels: dlib-bin,
#   face_recognition, pydantic and python-dotenv with their needs); models/ (the three
#   face_recognition_models files the recognizer loads); faces/ (the bench photos and MANIFEST.csv).
#   OUT receives build.log, gpu.json and report.md.
set -euo pipefail
carry=$(cd "$1" && pwd)
out=$2
mkdir -p "$out"
jobs=$(nproc)
python=${PYTHON:-python3}
say() { echo "[gpu-bench $(date +%T)] $*"; }

say "machine: $(nvidia-smi -L | head -1); $($python --version); $jobs cores"
nvcc=$(command -v nvcc || ls /usr/local/cuda/bin/nvcc 2>/dev/null || true)
[ -n "$nvcc" ] || { say "no nvcc on this machine: a CUDA build of dlib needs CUDA's compiler"; exit 1; }
export PATH="$(dirname "$nvcc"):$PATH"
say "nvcc: $nvcc ($("$nvcc" --version | tail -1))"

# cuDNN: the system's, or the nvidia-cudnn wheel beside PyTorch. dlib's FindCUDNN wants an
# unversioned libcudnn.so, which the wheel does not ship.
cudnn_h=$(find /usr/include /usr/local "$($python -c 'import site; print(site.getsitepackages()[0])')" \
    -name cudnn.h 2>/dev/null | head -1 || true)
cudnn_so=$(find "$(dirname "$(dirname "$cudnn_h")")" /usr/lib/x86_64-linux-gnu /usr/local -name 'libcudnn.so*' 2>/dev/null \
    | grep -E 'libcudnn\.so(\.[0-9]+)?$' | head -1 || true)
[ -n "$cudnn_h" ] && [ -n "$cudnn_so" ] || { say "cuDNN not found (cudnn.h: '$cudnn_h', libcudnn: '$cudnn_so')"; exit 1; }
mkdir -p /tmp/cudnn-lib && ln -sfn "$cudnn_so" /tmp/cudnn-lib/libcudnn.so
export CUDNN_INCLUDE_DIR=$(dirname "$cudnn_h") CUDNN_LIBRARY=/tmp/cudnn-lib
export LD_LIBRARY_PATH="$(dirname "$cudnn_so"):/usr/local/cuda/lib64:${LD_LIBRARY_PATH:-}"
say "cuDNN: $cudnn_h, $cudnn_so"

# The Python packages the bench imports that this machine lacks, and dlib-bin apart (the CPU pass).
$python -m pip install -q --no-index --no-deps --no-compile --target /tmp/site \
    $(ls "$carry"/whl/*.whl | grep -v dlib_bin)
$python -m pip install -q --no-index --no-deps --no-compile --target /tmp/dlib-cpu "$carry"/whl/dlib_bin-*.whl
# face_recognition imports face_recognition_models, whose sdist (with a 96 MB 68-point model that
# the recognizer never uses) does not travel: this stand-in names the three files it loads.
mkdir -p /tmp/site/face_recognition_models
cat >/tmp/site/face_recognition_models/__init__.py <<EOF
import os
_MODELS = "$carry/models"
def pose_predictor_model_location():  # the 68-point model: loaded at import, never used
    return os.path.join(_MODELS, "shape_predictor_5_face_landmarks.dat")
def pose_predictor_five_point_model_location():
    return os.path.join(_MODELS, "shape_predictor_5_face_landmarks.dat")
def face_recognition_model_location():
    return os.path.join(_MODELS, "dlib_face_recognition_resnet_model_v1.dat")
def cnn_face_detector_model_location():
    return os.path.join(_MODELS, "mmod_human_face_detector.dat")
EOF
# bench/photos.py reads ../shared/faces beside the checkout.
if [ ! -e ../shared/faces ]; then mkdir -p ../shared && ln -sfn "$carry/faces" ../shared/faces; fi

if [ -d /tmp/dlib-cuda/dlib ] || compgen -G "/tmp/dlib-cuda/_dlib_pybind11*" >/dev/null; then
    say "dlib with CUDA already built in /tmp/dlib-cuda"
else
say "building dlib with CUDA (sm_90, $jobs jobs)"
rm -rf /tmp/dlib-src /tmp/dlib-wheel && mkdir -p /tmp/dlib-src
tar -xzf "$carry"/dlib-20.0.1.tar.gz -C /tmp/dlib-src
# No image codecs, GUI or sqlite in dlib (setup.py hands every DLIB_* variable to CMake): the
# recognizer decodes with OpenCV and Pillow, and dlib's own libpng/libjpeg in the same process as
# OpenCV's were the first suspect for the crashes the first CUDA build had (free(): invalid pointer
# in cv2.resize; a segfault importing dlib after numpy).
export DLIB_PNG_SUPPORT=OFF DLIB_JPEG_SUPPORT=OFF DLIB_GIF_SUPPORT=OFF DLIB_WEBP_SUPPORT=OFF \
    DLIB_JXL_SUPPORT=OFF DLIB_NO_GUI_SUPPORT=ON DLIB_LINK_WITH_SQLITE3=OFF
if ! DLIB_USE_CUDA=1 DLIB_USE_BLAS=OFF DLIB_USE_LAPACK=OFF CUDAARCHS=${CUDAARCHS:-90} CMAKE_BUILD_PARALLEL_LEVEL=$jobs \
    $python -m pip wheel -v --no-build-isolation --no-deps --no-index -w /tmp/dlib-wheel /tmp/dlib-src/dlib-20.0.1 \
    >"$out/build.log" 2>&1; then
    grep -iE "cuda|cudnn|error" "$out/build.log" | tail -30 || tail -30 "$out/build.log"
    exit 1
fi
grep -E "DLIB WILL|CUDNN" "$out/build.log" | sort -u | head -10 || true
$python -m pip install -q --no-index --no-deps --target /tmp/dlib-cuda /tmp/dlib-wheel/dlib-*.whl
fi
# Each import order in a process of its own: a crash names the order that crashes.
for order in "dlib, numpy" "numpy, dlib" "cv2, dlib" "dlib, cv2"; do
    PYTHONPATH=/tmp/dlib-cuda:/tmp/site $python -c "import $order, dlib; print('$order: dlib', dlib.__version__, 'CUDA', dlib.DLIB_USE_CUDA, 'devices', dlib.cuda.get_num_devices())" \
        || say "importing $order with the CUDA dlib failed (exit $?)"
done
PYTHONPATH=/tmp/dlib-cpu:/tmp/site $python -c 'import numpy, dlib; print("CPU dlib", dlib.__version__)' || say "the CPU dlib failed"


say "bench: GPU pass, then one CPU core"
PYTHONUNBUFFERED=1 BENCH_GPU_DLIB=/tmp/dlib-cuda BENCH_CPU_DLIB=/tmp/dlib-cpu PYTHONPATH="/tmp/site:$PWD" \
    $python -m bench.gpu "$out"
cat "$out/report.md"
say "done"
