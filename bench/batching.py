"""Batching in the recognizer: the same photos one at a time, then in batches, on the installed dlib.

With a CUDA dlib and a GPU the detector is the CNN (`DETECTION_MODEL=auto`) and this is the GPU
figure against the CPU path; without one it is HOG on the CPU, where only the encoder call is
shared. Decoding is left out of both: the recognizer decodes in its gRPC threads, outside a batch.
`python -m bench.batching` is the measuring process; it prints JSON.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

from bench.photos import photo_set
from bench.stats import median

BATCH = 8


def worker(rounds: int) -> dict:
    from bench.recognition import default_detector
    from kubeface.settings import DetectionModel
    from recognizer.faces import load_image_file

    detector = default_detector(DetectionModel.AUTO)
    _, photos, _ = photo_set()
    images = [load_image_file(photo.path) for photo in photos]
    detector.find_faces_batch(images[:2])  # warm-up (on a GPU: CUDA context, kernels)
    alone, batched = [], []
    for _ in range(rounds):
        started = time.perf_counter()
        for image in images:
            detector.find_faces(image)
        alone.append(len(images) / (time.perf_counter() - started))
        started = time.perf_counter()
        for first in range(0, len(images), BATCH):
            detector.find_faces_batch(images[first : first + BATCH])
        batched.append(len(images) / (time.perf_counter() - started))
    return {
        "device": "GPU (CUDA)" if detector.uses_cuda else "CPU",
        "model": detector.model.value,
        "images": len(images),
        "alone": median(alone),
        "batched": median(batched),
    }


def run(report, rounds: int) -> dict:
    env = {**os.environ, "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1"}
    out = subprocess.run(
        [sys.executable, "-m", "bench.batching", str(rounds)],
        env=env,
        capture_output=True,
        text=True,
        check=True,
        timeout=1800,
    )
    result = json.loads(out.stdout.strip().splitlines()[-1])
    report.section(
        "7. Batching: one image at a time against batches",
        f"{result['images']} decoded photos, {result['device']}, detector `{result['model']}`; "
        f"`FaceDetector.find_faces` per image against `find_faces_batch` on {BATCH} images at a "
        f"time (what `recognizer/batching.py` hands dlib under concurrent requests); median of "
        f"{rounds} passes. On a CPU, HOG detection runs image by image either way.",
    )
    report.table(
        ["device", "model", "one at a time, images/s", f"batches of {BATCH}, images/s", "ratio"],
        [
            [
                result["device"],
                result["model"],
                result["alone"],
                result["batched"],
                result["batched"] / result["alone"],
            ]
        ],
    )
    return result


if __name__ == "__main__":
    print(json.dumps(worker(int(sys.argv[1]))))  # noqa: T201 - the worker's answer to its parent
