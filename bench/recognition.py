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
# `make dlib-openblas` unpacks each build in .cache/dlib-openblas-<version>-<level>/site.
CACHE = Path(__file__).resolve().parent.parent / ".cache"


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
    """dlib builds to compare: the installed dlib-bin, and each OpenBLAS build that was made
    (named after its folder, e.g. dlib-openblas-20.0.1-x86-64-v3)."""
    found: dict[str, dict[str, str]] = {"dlib-bin": {}}
    for site in sorted(CACHE.glob("dlib-openblas*/site")):
        found[site.parent.name] = {"PYTHONPATH": str(site)}
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
    results: dict[str, dict[str, list[dict]]] = {}
    for _ in range(rounds):
        for variant, env_extra in variants().items():
            for pipeline in ("baseline", "service"):
                results.setdefault(variant, {}).setdefault(pipeline, []).append(
                    _run_pass(pipeline, env_extra)
                )
    summary: dict = {variant: _rates(by_pipeline, photos) for variant, by_pipeline in results.items()}
    # The yardstick: plain face_recognition as the project installs it (dlib-bin).
    yardstick = summary["dlib-bin"]["rate"]["baseline"]
    rows = [
        [v, r["rate"]["baseline"], r["rate"]["service"], r["rate"]["service"] / r["rate"]["baseline"]]
        + [r["rate"]["service"] / yardstick]
        for v, r in summary.items()
    ]
    report.section(
        "1-2. Recognition on one core: plain face_recognition against the recognizer's pipeline",
        f"{len(photos)} photos from `{root}`; each pass in its own process pinned to one core; "
        f"median of {rounds} alternating passes per photo. Baseline: `load_image_file`, HOG with one "
        "upsample at full resolution, `face_encodings`. Service: the recognizer's `FaceDetector` "
        "(defaults) and its matching (`Gallery.nearest`). The last column divides by plain "
        "face_recognition on dlib-bin, the library as installed.",
    )
    header = ["dlib build", "baseline images/s", "service images/s", "service / baseline"]
    report.table([*header, "service / dlib-bin baseline"], rows)
    report.bars(
        "recognition_rate",
        "Images per second on one core",
        [f"{v}\n{p}" for v in summary for p in ("baseline", "service")],
        [summary[v]["rate"][p] for v in summary for p in ("baseline", "service")],
        "images/s",
    )
    _report_identities(report, results, summary, photos, references)
    return summary


def _rates(by_pipeline: dict[str, list[dict]], photos: list) -> dict:
    """Per-photo median seconds and images/s of each pipeline of one dlib build."""
    per_photo = {
        p: {photo.name: median([r["seconds"][photo.name] for r in runs]) for photo in photos}
        for p, runs in by_pipeline.items()
    }
    rate = {p: len(photos) / sum(times.values()) for p, times in per_photo.items()}
    return {"rate": rate, "per_photo": per_photo}


def _report_identities(report, results: dict, summary: dict, photos: list, references: dict) -> None:
    """Same person (or none) on every photo, distances within 0.05 of the baseline's: each build's
    service against plain face_recognition on dlib-bin; per photo for dlib-bin."""
    names = list(references)
    baseline = results["dlib-bin"]["baseline"][0]
    checks = {v: _identity_check(photos, names, baseline, runs["service"][0]) for v, runs in results.items()}
    mismatches, worst, worst_cross, table = checks["dlib-bin"]
    times = summary["dlib-bin"]["per_photo"]
    for row in table:
        row += [round(times[p][row[0]] * 1000) for p in ("baseline", "service")]
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
    report.table(
        ["dlib build's service against the dlib-bin baseline", "photos whose identities differ", "max |Δd|"],
        [[v, c[0], f"{c[1]:.3f}"] for v, c in checks.items()],
    )
    summary["identity"] = {
        "mismatches": mismatches,
        "worst_distance_delta": worst,
        "worst_distance_delta_vs_baseline_references": worst_cross,
    }
    summary["identity_by_build"] = {
        v: {"mismatches": c[0], "worst_distance_delta": c[1]} for v, c in checks.items()
    }


def _identity_check(photos: list, names: list[str], baseline: dict, service: dict) -> tuple:
    """Mismatching photos, largest distance difference (own references, and the baseline's), and
    a row per photo: name, manifest, baseline's and service's identities, difference."""
    table, worst, worst_cross, mismatches = [], 0.0, 0.0, 0
    for photo in photos:
        b, s = baseline["faces"][photo.name], service["faces"][photo.name]
        same = identities(b, names) == identities(s, names) and len(b) == len(s)
        delta = _largest_difference(b, s)
        worst, mismatches = max(worst, delta), mismatches + (not same)
        worst_cross = max(worst_cross, _largest_difference(b, service["faces_vs_baseline_refs"][photo.name]))
        table.append(
            [
                photo.name,
                ", ".join(photo.persons),
                " ".join(identities(b, names)),
                " ".join(identities(s, names)),
                f"{delta:.3f}",
            ]
        )
    return mismatches, worst, worst_cross, table


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
