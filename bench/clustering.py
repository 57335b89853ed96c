"""Clustering unknown faces: time to place one new face beside 1k to 100k placed faces, one core.

`python -m bench.clustering N ADDS` is the measuring process (one core, single-threaded BLAS); it
prints JSON: milliseconds per placed face (median of ADDS) and the index build time.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import numpy as np

from bench.stats import median

SIZES = [1_000, 10_000, 100_000]
# Synthetic people: unit-vector centres (about 1.4 apart), faces spread about 0.35 around them, so
# two faces of one person lie within MATCH_TOLERANCE (0.6) of each other and strangers do not.
FACES_PER_PERSON = 10
SPREAD = 0.03


def _faces(rng: np.random.Generator, centres: np.ndarray, count: int) -> tuple[np.ndarray, np.ndarray]:
    people = rng.integers(0, len(centres), count)
    return people, centres[people] + rng.normal(0, SPREAD, (count, centres.shape[1]))


def worker(size: int, adds: int) -> dict:
    os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
    from kubeface.clustering import FaceIndex, IncrementalClusterer, MemoryClusterStore
    from kubeface.encodings import ENCODING_DIM

    rng = np.random.default_rng(size)
    centres = rng.normal(size=(max(size // FACES_PER_PERSON, 1), ENCODING_DIM))
    centres /= np.linalg.norm(centres, axis=1, keepdims=True)
    people, placed = _faces(rng, centres, size)
    store, index = MemoryClusterStore(), FaceIndex(0.6)
    clusterer = IncrementalClusterer(index, store)
    started = time.perf_counter()
    # The placed faces as the worker re-loads them at start: one cluster per person, one bulk add.
    cluster_of_person: dict[int, int] = {}
    for face_id, person in enumerate(people.tolist()):
        if person in cluster_of_person:
            store.join_cluster(face_id, cluster_of_person[person], ())
        else:
            cluster_of_person[person] = store.start_cluster(face_id)
    clusterer.seed(list(range(size)), placed)
    build_seconds = time.perf_counter() - started
    new_people, new_faces = _faces(rng, centres, adds)
    seconds, joined = [], 0
    for n, encoding in enumerate(new_faces):
        began = time.perf_counter()
        placement = clusterer.add(size + n, encoding)
        seconds.append(time.perf_counter() - began)
        joined += placement.cluster_id == cluster_of_person.get(int(new_people[n]))
    return {"ms": median(seconds) * 1000, "build_s": build_seconds, "joined_own_person": joined / adds}


def run(report, adds: int, sizes: list[int] = SIZES) -> dict:
    env = {**os.environ, "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1"}
    results = {}
    for size in sizes:
        out = subprocess.run(
            [sys.executable, "-m", "bench.clustering", str(size), str(adds)],
            env=env,
            capture_output=True,
            text=True,
            check=True,
            timeout=900,
        )
        results[size] = json.loads(out.stdout)
    report.section(
        "Clustering unknown faces (one core)",
        "Time for `IncrementalClusterer.add` to place one new unknown face (HNSW neighbours, then "
        f"join, start or merge, in the in-memory store) beside N placed faces; median of {adds} "
        f"faces. Synthetic people, {FACES_PER_PERSON} faces each. It must stay flat-ish as N grows "
        "(an index, not a scan); MySQL's per-face writes come on top in the worker.",
    )
    rows = [
        [f"{size:,}", r["ms"], r["build_s"], f"{r['joined_own_person']:.1%}"] for size, r in results.items()
    ]
    report.table(["placed faces", "ms per new face", "index build s", "joined own person's cluster"], rows)
    report.lines(
        "clustering",
        "Time to place one unknown face",
        list(results),
        {"ms per face": [r["ms"] for r in results.values()]},
        xscale="log",
        xlabel="placed unknown faces",
        ylabel="ms",
    )
    return results


if __name__ == "__main__":
    print(json.dumps(worker(int(sys.argv[1]), int(sys.argv[2]))))  # noqa: T201 - answer to the parent
