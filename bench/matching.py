"""Item 5: nearest-neighbour matching against 1k to 1M known faces, one core.

`python -m bench.matching N QUERIES SHAPE` is the measuring process (one core, one faiss/BLAS
thread); it prints JSON: milliseconds per query face, how often a query needed more than one
scan, faiss's SIMD level and the gallery's memory. SHAPE is `random` (unit vectors: nearly
equidistant, the hardest case for pruning) or `clustered` (shaped like dlib encodings, below).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import numpy as np

from bench.stats import median, rss_mb

SIZES = [1_000, 10_000, 100_000, 1_000_000]
SHAPES = ["clustered", "random"]
TARGET_MS = {100_000: 5.0, 1_000_000: 20.0}
# The clustered gallery, shaped like dlib encodings of the photos in shared/faces (15 faces of
# 6 people, encoded with face_recognition 1.3.0): encodings share a mean (their norms are ~1.4);
# people's centres lie ~0.8 apart (0.05 per dimension) and two photos of one person 0.23-0.52
# apart (0.0235 per dimension, the within-person spread of those photos).
MEAN_SPREAD = 0.12
PERSON_SPREAD = 0.05
PHOTO_SPREAD = 0.0235
PHOTOS_PER_PERSON = 10
STRANGER_SHARE = 0.1  # queries of people not in the gallery
CHUNK = 100_000  # rows generated at a time: never a float64 copy of everything


def _random_gallery(rng: np.random.Generator, size: int):
    from kubeface.encodings import ENCODING_DIM
    from recognizer.gallery import Gallery

    encodings = np.empty((size, ENCODING_DIM), dtype=np.float32)
    for start in range(0, size, CHUNK):
        chunk = rng.standard_normal((min(CHUNK, size - start), ENCODING_DIM), dtype=np.float32)
        encodings[start : start + len(chunk)] = chunk / np.linalg.norm(chunk, axis=1, keepdims=True)
    ids = np.arange(size, dtype=np.int64)

    def query() -> np.ndarray:
        vector = rng.standard_normal(ENCODING_DIM)
        return vector / np.linalg.norm(vector)

    return Gallery(ids, ids % 1000, {i: f"p{i}" for i in range(1000)}, encodings), query


def _clustered_gallery(rng: np.random.Generator, size: int):
    from kubeface.encodings import ENCODING_DIM
    from recognizer.gallery import Gallery

    mean = rng.normal(0.0, MEAN_SPREAD, ENCODING_DIM)
    people = max(1, size // PHOTOS_PER_PERSON)
    centres = (mean + rng.normal(0.0, PERSON_SPREAD, (people, ENCODING_DIM))).astype(np.float32)
    ids = np.arange(size, dtype=np.int64)
    person_ids = ids % people
    encodings = np.empty((size, ENCODING_DIM), dtype=np.float32)
    for start in range(0, size, CHUNK):
        rows = person_ids[start : start + CHUNK]
        noise = rng.normal(0.0, PHOTO_SPREAD, (len(rows), ENCODING_DIM)).astype(np.float32)
        encodings[start : start + len(rows)] = centres[rows] + noise

    def query() -> np.ndarray:
        if rng.random() < STRANGER_SHARE:
            centre = mean + rng.normal(0.0, PERSON_SPREAD, ENCODING_DIM)
        else:
            centre = centres[rng.integers(people)]
        return centre + rng.normal(0.0, PHOTO_SPREAD, ENCODING_DIM)

    return Gallery(ids, person_ids, {i: f"p{i}" for i in range(people)}, encodings), query


def worker(size: int, queries: int, shape: str) -> dict:
    os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
    import faiss
    from prometheus_client import REGISTRY

    from recognizer.gallery import simd_level

    faiss.omp_set_num_threads(1)
    rng = np.random.default_rng(size)
    before = rss_mb(os.getpid())
    gallery, query = (_clustered_gallery if shape == "clustered" else _random_gallery)(rng, size)
    rss = rss_mb(os.getpid()) - before
    seconds = []
    for _ in range(queries + 1):
        face = query()
        started = time.perf_counter()
        gallery.nearest_persons([face], 2)  # as Identify asks for a photo of one face
        seconds.append(time.perf_counter() - started)
    scans = {
        why: REGISTRY.get_sample_value("recognizer_match_scans_total", {"scan": why}) or 0.0
        for why in ("first", "wider", "float32")
    }
    return {
        "ms": median(seconds[1:]) * 1000,
        "queries": queries + 1,
        "rescans": {why: int(n) for why, n in scans.items() if why != "first"},
        "code_error": gallery.code_error,
        "simd": simd_level(),
        "gallery_mb": gallery.nbytes / 2**20,
        "rss_delta_mb": rss,
    }


def run(report, queries: int, sizes: list[int] = SIZES, shapes: list[str] = SHAPES) -> dict:
    env = {**os.environ, "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1"}
    results: dict[str, dict[int, dict]] = {}
    for shape in shapes:
        results[shape] = {}
        for size in sizes:
            out = subprocess.run(
                [sys.executable, "-m", "bench.matching", str(size), str(queries), shape],
                env=env,
                capture_output=True,
                text=True,
                check=True,
                timeout=600,
            )
            results[shape][size] = json.loads(out.stdout)
    simd = next(iter(next(iter(results.values())).values()))["simd"]
    report.section(
        "5. Matching against many known faces (one core)",
        f"Exact nearest people (`Gallery.nearest_persons(face, 2)`, as Identify asks for a photo of "
        f"one face): a one-byte SIMD scan with faiss (SIMD level `{simd}`), its best candidates "
        f"re-ranked in float64; near-ties widen the scan. Median of {queries} single-face "
        f"queries, one faiss thread, pinned to one core. `clustered`: {PHOTOS_PER_PERSON} photos per "
        f"person, spread as dlib encodings of the photos in shared/faces, "
        f"{STRANGER_SHARE:.0%} of queries strangers; `random`: unit vectors (nearly equidistant).",
    )
    rows = []
    for shape, by_size in results.items():
        for size, r in by_size.items():
            target = TARGET_MS.get(size)
            verdict = (
                "" if target is None else ("met" if r["ms"] <= target else "NOT met") + f" (≤ {target:g} ms)"
            )
            rescans = ", ".join(f"{why} {n}" for why, n in r["rescans"].items() if n) or "none"
            rows.append(
                [
                    shape,
                    f"{size:,}",
                    r["ms"],
                    f"{rescans} of {r['queries']}",
                    r["gallery_mb"],
                    r["rss_delta_mb"],
                    verdict,
                ]
            )
    report.table(
        [
            "gallery",
            "known faces",
            "ms per query face",
            "extra scans",
            "gallery MB",
            "RSS growth MB",
            "target",
        ],
        rows,
    )
    report.lines(
        "matching",
        "Time per query face",
        list(next(iter(results.values()))),
        {f"{shape} ms per query": [r["ms"] for r in by_size.values()] for shape, by_size in results.items()},
        xscale="log",
        yscale="log",
        xlabel="known faces",
        ylabel="ms",
    )
    return results


if __name__ == "__main__":
    size, queries = int(sys.argv[1]), int(sys.argv[2])
    print(json.dumps(worker(size, queries, sys.argv[3] if len(sys.argv) > 3 else "random")))  # noqa: T201
