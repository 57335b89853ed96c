"""The GPU against one CPU core: the recognizer's CNN pipeline, image by image and in batches.

The same `FaceDetector` the recognizer runs (CNN detector, 5-point landmarks, ResNet encoder),
on the bench photos decoded beforehand, as the batching section does. Two processes:
- the GPU pass, with the dlib that `BENCH_GPU_DLIB` names (a folder put first on the path; unset:
  the installed dlib), one image at a time and in batches of `BATCH`, median of the rounds;
- the CPU pass, with the dlib that `BENCH_CPU_DLIB` names (a CPU build; unset: the installed
  dlib), pinned to one core with one BLAS/OpenMP thread, image by image until `CPU_BUDGET_S`
  has passed (the CNN detector takes seconds per photo on one core).
The ratio is taken over the photos both passes ran. Each pass also says who each face is (the
nearest reference photo within the tolerance), and the report counts the photos where the two
disagree. `tools/gpu-bench.sh` builds dlib with CUDA on a GPU machine and runs this.
`python -m bench.gpu [OUT]` runs it alone; `python -m bench.gpu worker ...` is a measuring process.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

from bench.stats import median

BATCH = 8
TOLERANCE = 0.6
CPU_BUDGET_S = 40.0


def _pin_one_core() -> None:
    os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})


def worker(budget_s: float, rounds: int) -> dict:
    """One measuring process: images/s alone and batched, and who each face is."""
    import dlib  # noqa: F401 - first: a CUDA dlib loaded after numpy crashed at import
    import numpy as np

    from bench.photos import photo_set
    from bench.recognition import default_detector
    from kubeface.settings import DetectionModel
    from recognizer.faces import load_image_file

    if os.environ.get("BENCH_CV2_SERIAL") == "1":
        import cv2

        cv2.setNumThreads(0)
        cv2.ipp.setUseIPP(False)
    detector = default_detector(DetectionModel.CNN)
    if not detector.uses_cuda:
        _pin_one_core()
    root, photos, references = photo_set()
    refs = {
        name: detector.encode_largest(load_image_file(root / ref))[0].encoding
        for name, ref in references.items()
    }
    images = [load_image_file(photo.path) for photo in photos]
    detector.find_faces_batch(images[:2])  # warm-up (on a GPU: CUDA context, kernels)
    alone_seconds: list[list[float]] = []
    who: dict[str, list[str]] = {}
    for _ in range(rounds):
        seconds: list[float] = []
        started_pass = time.perf_counter()
        for photo, image in zip(photos, images, strict=True):
            started = time.perf_counter()
            faces = detector.find_faces(image)
            seconds.append(time.perf_counter() - started)
            who[photo.name] = _identities([face.encoding for face in faces], refs, np)
            if time.perf_counter() - started_pass > budget_s:
                break
        alone_seconds.append(seconds)
    done = min(len(s) for s in alone_seconds)
    batched = []
    if detector.uses_cuda:
        for _ in range(rounds):
            started = time.perf_counter()
            for first in range(0, len(images), BATCH):
                detector.find_faces_batch(images[first : first + BATCH])
            batched.append(len(images) / (time.perf_counter() - started))
    return {
        "device": _device_name(detector),
        "images": len(images),
        "seconds": [median([s[i] for s in alone_seconds]) for i in range(done)],
        "batched": median(batched) if batched else None,
        "who": {photo.name: who[photo.name] for photo in photos[:done]},
    }


def _identities(encodings, refs, np) -> list[str]:
    names = list(refs)
    found = []
    for encoding in encodings:
        distances = [float(np.linalg.norm(encoding - refs[name])) for name in names]
        best = int(np.argmin(distances))
        found.append(names[best] if distances[best] <= TOLERANCE else "-")
    return sorted(found)


def _device_name(detector) -> str:
    if not detector.uses_cuda:
        return _cpu_name() + " (1 core)"
    out = subprocess.run(["nvidia-smi", "-L"], capture_output=True, text=True, check=False)
    return out.stdout.strip().splitlines()[0] if out.returncode == 0 and out.stdout.strip() else "GPU (CUDA)"


def _cpu_name() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return "CPU"


def _pass(dlib_folder: str | None, budget_s: float, rounds: int) -> dict:
    env = {**os.environ, "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1"}
    if dlib_folder:
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [dlib_folder, env.get("PYTHONPATH")]))
    out = subprocess.run(
        [sys.executable, "-X", "faulthandler", "-m", "bench.gpu", "worker", str(budget_s), str(rounds)],
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=1800,
    )
    if out.returncode != 0:
        raise RuntimeError(f"the measuring process failed ({out.returncode}):\n{out.stderr[-4000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def run(report, rounds: int) -> dict:
    gpu = _pass(os.environ.get("BENCH_GPU_DLIB"), float("inf"), rounds)
    if gpu["batched"] is None:
        report.section("GPU", "No CUDA dlib sees a GPU here (set BENCH_GPU_DLIB): skipped.")
        return {"skipped": "no GPU"}
    cpu = _pass(os.environ.get("BENCH_CPU_DLIB"), CPU_BUDGET_S, 1)
    common = len(cpu["seconds"])
    gpu_alone = common / sum(gpu["seconds"][:common])
    cpu_alone = common / sum(cpu["seconds"])
    differ = [name for name, faces in cpu["who"].items() if gpu["who"][name] != faces]
    report.section(
        "GPU against one CPU core (CNN detector)",
        f"The recognizer's CNN pipeline (detect, 5-point landmarks, encode) on decoded photos. "
        f"GPU: {gpu['device']}, all {gpu['images']} photos, median of {rounds} rounds. CPU: "
        f"{cpu['device']}, the first {common} photos (image by image for {CPU_BUDGET_S:.0f} s). "
        f"The ratio compares those {common} photos. Identities differ on {len(differ)} of them"
        + (f" ({', '.join(differ)})." if differ else "."),
    )
    report.table(
        ["pass", "images/s", "against one CPU core"],
        [
            [f"CPU, one core, one image at a time ({common} photos)", cpu_alone, 1.0],
            [f"GPU, one image at a time (same {common} photos)", gpu_alone, gpu_alone / cpu_alone],
            [
                f"GPU, one image at a time (all {gpu['images']})",
                len(gpu["seconds"]) / sum(gpu["seconds"]),
                "-",
            ],
            [f"GPU, batches of {BATCH} (all {gpu['images']})", gpu["batched"], gpu["batched"] / cpu_alone],
        ],
    )
    ratio = gpu_alone / cpu_alone
    return {"gpu": gpu, "cpu": cpu, "gpu_alone_vs_cpu_core": ratio, "identities_differ": differ}


def main() -> None:
    from bench.report import Report

    out = Path(sys.argv[1] if len(sys.argv) > 1 else os.environ.get("BENCH_OUT", "bench-results"))
    report = Report(out, "kubeface benchmark: GPU")
    result = run(report, rounds=3)
    (out / "gpu.json").write_text(json.dumps(result, indent=2))
    report.write()


if __name__ == "__main__":
    if sys.argv[1:2] == ["worker"]:
        print(json.dumps(worker(float(sys.argv[2]), int(sys.argv[3]))))  # noqa: T201 - to the parent
    else:
        main()
