"""Item 5: nearest-neighbour matching against 1k to 1M known faces, one core.

`python -m bench.matching N QUERIES` is the measuring process (one core, single-threaded BLAS);
it prints JSON: milliseconds per query face and the gallery's memory.
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
TARGET_MS = {100_000: 5.0, 1_000_000: 20.0}


def worker(size: int, queries: int) -> dict:
    os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
    from kubeface.encodings import ENCODING_DIM
    from recognizer.gallery import Gallery

    rng = np.random.default_rng(size)
    before = rss_mb(os.getpid())
    encodings = np.empty((size, ENCODING_DIM), dtype=np.float32)
    for start in range(0, size, 100_000):  # in chunks: never a float64 copy of everything
        chunk = rng.standard_normal((min(100_000, size - start), ENCODING_DIM), dtype=np.float32)
        encodings[start : start + len(chunk)] = chunk / np.linalg.norm(chunk, axis=1, keepdims=True)
    ids = np.arange(size, dtype=np.int64)
    gallery = Gallery(ids, ids % 1000, {i: f"p{i}" for i in range(1000)}, encodings)
    del encodings
    rss = rss_mb(os.getpid()) - before
    seconds = []
    for _ in range(queries):
        query = rng.standard_normal(ENCODING_DIM)
        query /= np.linalg.norm(query)
        started = time.perf_counter()
        gallery.nearest([query])
        seconds.append(time.perf_counter() - started)
    return {"ms": median(seconds[1:]) * 1000, "gallery_mb": gallery.nbytes / 2**20, "rss_delta_mb": rss}


def run(report, queries: int, sizes: list[int] = SIZES) -> dict:
    env = {**os.environ, "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1"}
    results = {}
    for size in sizes:
        out = subprocess.run(
            [sys.executable, "-m", "bench.matching", str(size), str(queries)],
            env=env,
            capture_output=True,
            text=True,
            check=True,
            timeout=600,
        )
        results[size] = json.loads(out.stdout)
    report.section(
        "5. Matching against many known faces (one core)",
        f"Random unit vectors of dimension 128; exact nearest neighbour (`Gallery.nearest`: a float16 "
        f"SIMD scan with faiss, its best candidates re-ranked in float64, or a float32 scan when "
        f"float16 cannot separate them); median of "
        f"{queries} single-face queries; `OPENBLAS_NUM_THREADS=1`, pinned to one core.",
    )
    rows = []
    for size, r in results.items():
        target = TARGET_MS.get(size)
        verdict = (
            "" if target is None else ("met" if r["ms"] <= target else "NOT met") + f" (≤ {target:g} ms)"
        )
        rows.append([f"{size:,}", r["ms"], r["gallery_mb"], r["rss_delta_mb"], verdict])
    report.table(["known faces", "ms per query face", "gallery MB", "RSS growth MB", "target"], rows)
    report.lines(
        "matching",
        "Time per query face",
        list(results),
        {"ms per query": [r["ms"] for r in results.values()]},
        xscale="log",
        yscale="log",
        xlabel="known faces",
        ylabel="ms",
    )
    return results


if __name__ == "__main__":
    print(json.dumps(worker(int(sys.argv[1]), int(sys.argv[2]))))  # noqa: T201 - answer to the parent
