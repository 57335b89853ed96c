"""Items 1 and 2 in-process: plain face_recognition (the yardstick) against the recognizer's pipeline.

Each pass runs in its own process pinned to one core, so that both pipelines (and both dlib
builds) are measured alike; passes alternate, so machine noise falls on both.
`python -m bench.recognition PIPELINE` is that process: it prints JSON on stdout.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from bench.photos import photo_set
from bench.stats import median

TOLERANCE = 0.6
OPENBLAS_SITE = Path(__file__).resolve().parent.parent / ".cache" / "dlib-openblas" / "site"


def _baseline(fr):
    def identify(path: Path) -> list[np.ndarray]:
        image = fr.load_image_file(str(path))
        return fr.face_encodings(image, known_face_locations=fr.face_locations(image, 1))

    def enrol(path: Path) -> np.ndarray:
        return identify(path)[0]

    return identify, enrol


def default_detector(model):
    """The recognizer's FaceDetector with the settings' defaults, but the model given."""
    from kubeface.settings import Settings
    from recognizer.faces import FaceDetector

    defaults = Settings.model_fields
    return FaceDetector(
        model,
        defaults["detection_upsample"].default,
        defaults["detection_max_side"].default,
        adaptive_upsample=defaults["detection_adaptive_upsample"].default,
    )


def _service():
    from kubeface.settings import DetectionModel
    from recognizer.faces import load_image_file

    detector = default_detector(DetectionModel.HOG)

    def identify(path: Path) -> list[np.ndarray]:
        return [face.encoding for face in detector.find_faces(load_image_file(path))]

    def enrol(path: Path) -> np.ndarray:  # what the Encode RPC does when a person is enrolled
        return detector.encode_largest(load_image_file(path))[0].encoding

    return identify, enrol


def worker(pipeline: str) -> dict:
    """One timed pass over the photos: seconds per photo, and distances to every reference.

    Distances come twice: to references encoded by this pipeline (what it reports in use: the
    service encodes enrolled photos itself) and to references encoded by plain face_recognition.
    """
    os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})  # one core
    import dlib
    import face_recognition as fr

    from recognizer.gallery import Gallery

    root, photos, references = photo_set()
    identify, enrol = _baseline(fr) if pipeline == "baseline" else _service()
    own_refs = [enrol(root / ref) for ref in references.values()]
    if pipeline == "baseline":
        baseline_refs = own_refs
    else:
        _, baseline_enrol = _baseline(fr)
        baseline_refs = [baseline_enrol(root / ref) for ref in references.values()]
    gallery = Gallery(
        np.arange(len(references)),
        np.arange(len(references)),
        dict(enumerate(references)),
        np.stack(own_refs),
    )
    identify(photos[0].path)  # warm-up: first calls allocate
    seconds, faces, faces_vs_baseline_refs = {}, {}, {}
    for photo in photos:
        started = time.perf_counter()
        encodings = identify(photo.path)
        gallery.nearest(encodings)  # the service matches too; the baseline's cost is negligible
        seconds[photo.name] = time.perf_counter() - started
        faces[photo.name] = [[float(np.linalg.norm(e - r)) for r in own_refs] for e in encodings]
        faces_vs_baseline_refs[photo.name] = [
            [float(np.linalg.norm(e - r)) for r in baseline_refs] for e in encodings
        ]
    return {
        "seconds": seconds,
        "faces": faces,
        "faces_vs_baseline_refs": faces_vs_baseline_refs,
        "blas": bool(getattr(dlib, "DLIB_USE_BLAS", False)),
    }


def variants() -> dict[str, dict[str, str]]:
    """dlib builds to compare: the installed dlib-bin, and the OpenBLAS wheel when it was built."""
    found = {"dlib-bin": {}}
    if OPENBLAS_SITE.is_dir():
        found["dlib-openblas"] = {"PYTHONPATH": str(OPENBLAS_SITE)}
    return found


def _run_pass(pipeline: str, env_extra: dict[str, str]) -> dict:
    env = {**os.environ, "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", **env_extra}
    out = subprocess.run(
        [sys.executable, "-m", "bench.recognition", pipeline],
        env=env,
        capture_output=True,
        text=True,
        check=True,
        timeout=600,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def identities(distances: list[list[float]], names: list[str]) -> list[str]:
    """Who each face is (the nearest reference within tolerance), sorted; '-' for nobody."""
    found = []
    for row in distances:
        best = int(np.argmin(row))
        found.append(names[best] if row[best] <= TOLERANCE else "-")
    return sorted(found)


def run(report, rounds: int) -> dict:
    """Alternate baseline and service passes for every dlib build; report per-photo medians."""
    root, photos, references = photo_set()
    names = list(references)
    results: dict[str, dict[str, list[dict]]] = {}
    for _ in range(rounds):
        for variant, env_extra in variants().items():
            for pipeline in ("baseline", "service"):
                results.setdefault(variant, {}).setdefault(pipeline, []).append(
                    _run_pass(pipeline, env_extra)
                )
    summary = {}
    rows = []
    for variant, by_pipeline in results.items():
        per_photo = {
            p: {photo.name: median([r["seconds"][photo.name] for r in runs]) for photo in photos}
            for p, runs in by_pipeline.items()
        }
        rate = {p: len(photos) / sum(times.values()) for p, times in per_photo.items()}
        summary[variant] = {"rate": rate, "per_photo": per_photo}
        rows.append([variant, rate["baseline"], rate["service"], rate["service"] / rate["baseline"]])
    report.section(
        "1-2. Recognition on one core: plain face_recognition against the recognizer's pipeline",
        f"{len(photos)} photos from `{root}`; each pass in its own process pinned to one core; "
        f"median of {rounds} alternating passes per photo. Baseline: `load_image_file`, HOG with one "
        "upsample at full resolution, `face_encodings`. Service: the recognizer's `FaceDetector` "
        "(defaults) and its matching (`Gallery.nearest`).",
    )
    report.table(["dlib build", "baseline images/s", "service images/s", "service / baseline"], rows)
    report.bars(
        "recognition_rate",
        "Images per second on one core",
        [f"{v}\n{p}" for v in summary for p in ("baseline", "service")],
        [summary[v]["rate"][p] for v in summary for p in ("baseline", "service")],
        "images/s",
    )
    # Identities: same person (or none) on every photo; distances within 0.05 of the baseline's.
    default = results["dlib-bin"]
    base_faces, service_faces = default["baseline"][0]["faces"], default["service"][0]["faces"]
    cross_faces = default["service"][0]["faces_vs_baseline_refs"]
    table, worst, worst_cross, mismatches = [], 0.0, 0.0, 0
    for photo in photos:
        b, s = base_faces[photo.name], service_faces[photo.name]
        same = identities(b, names) == identities(s, names) and len(b) == len(s)
        delta = _largest_difference(b, s)
        worst, mismatches = max(worst, delta), mismatches + (not same)
        worst_cross = max(worst_cross, _largest_difference(b, cross_faces[photo.name]))
        times = summary["dlib-bin"]["per_photo"]
        table.append(
            [
                photo.name,
                ", ".join(photo.persons),
                " ".join(identities(b, names)),
                " ".join(identities(s, names)),
                f"{delta:.3f}",
                round(times["baseline"][photo.name] * 1000),
                round(times["service"][photo.name] * 1000),
            ]
        )
    report.section(
        "Identities (dlib-bin): baseline against service",
        f"Photos whose identities differ: **{mismatches}**. Largest distance difference to any "
        f"reference face: **{worst:.3f}** (target: at most 0.05), each pipeline encoding the "
        "reference photos its own way, as the service does when a person is enrolled. Measured "
        f"against the baseline's encodings of the references instead: {worst_cross:.3f}. "
        "References: " + ", ".join(f"{k} = `{v}`" for k, v in references.items()) + "; nobody else is known.",
    )
    table_header = ["photo", "manifest", "baseline", "service", "max |Δd|", "baseline ms", "service ms"]
    report.table(table_header, table)
    summary["identity"] = {
        "mismatches": mismatches,
        "worst_distance_delta": worst,
        "worst_distance_delta_vs_baseline_references": worst_cross,
    }
    return summary


def _largest_difference(a: list[list[float]], b: list[list[float]]) -> float:
    """Largest |difference| between matching faces' distances (faces in distance order)."""
    return max(
        (
            abs(x - y)
            for fa, fb in zip(sorted(a), sorted(b), strict=False)
            for x, y in zip(fa, fb, strict=True)
        ),
        default=0.0,
    )


if __name__ == "__main__":
    print(json.dumps(worker(sys.argv[1])))  # noqa: T201 - the worker's answer to its parent
