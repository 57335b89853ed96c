"""Item 6 and memory: recognizer start until SERVING with many cached known faces, and its RSS."""

from __future__ import annotations

import hashlib

import numpy as np

from bench.mesh import admin_connection, restart
from bench.stats import rss_mb


def _add_known_faces(mesh, total: int) -> None:
    """Top person_images up to `total` rows, random unit encodings cached in the rows."""
    conn = admin_connection(mesh)
    try:
        with conn.cursor() as cur:
            cur.execute("INSERT IGNORE INTO person (name) VALUES ('bench-crowd')")
            cur.execute("SELECT id FROM person WHERE name = 'bench-crowd'")
            person_id = cur.fetchone()["id"]
            cur.execute("SELECT COUNT(*) AS n FROM person_images")
            have = cur.fetchone()["n"]
            rng = np.random.default_rng(total)
            for start in range(have, total, 5000):
                vectors = rng.standard_normal((min(5000, total - start), 128))
                vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
                rows = []
                for i, vector in enumerate(vectors, start):
                    path = f"bench-crowd/{i}.jpg"
                    rows.append(
                        (
                            person_id,
                            path,
                            hashlib.sha256(path.encode()).digest(),
                            vector.astype("<f8").tobytes(),
                        )
                    )
                cur.executemany(
                    "INSERT INTO person_images (person_id, path, path_hash, encoding)"
                    " VALUES (%s, %s, %s, %s)",
                    rows,
                )
    finally:
        conn.close()


def _recognizer_rss(mesh) -> float:
    return rss_mb(mesh.services["recognizer"].popen.pid)


def run(report, mesh, sizes: list[int], rounds: int) -> dict:
    results = {}
    for size in sizes:
        _add_known_faces(mesh, size)
        times = sorted(restart(mesh, "recognizer", RECOGNIZER_PROCESSES="1") for _ in range(rounds))
        results[size] = {"seconds": times[len(times) // 2], "rss_mb": _recognizer_rss(mesh)}
    report.section(
        "6. Recognizer cold start and memory",
        "Known faces with cached encodings in `person_images`; time from starting the process "
        f"until gRPC health answers SERVING (median of {rounds}), then its RSS. Targets: ≤ 3 s with "
        "10k known faces; ≤ 600 MB RSS with 100k.",
    )
    report.table(
        ["known faces", "seconds to SERVING", "recognizer RSS MB"],
        [[f"{s:,}", r["seconds"], r["rss_mb"]] for s, r in results.items()],
    )
    return results
