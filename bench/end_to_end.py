"""Item 3: from POST to final status, through receiver, NSQ, processor, recognizer and MySQL.

Latency is `finished_at - created_at` of each row: both stamped by MySQL, so polling adds nothing.
"""

from __future__ import annotations

import time

from bench.mesh import admin_connection, copies, restart
from bench.service import identify_load, start_recognizers
from bench.stats import median, percentile

FINAL = ("PROCESSED", "PENDING", "FAILED")


def _wait_final(mesh, ids: list[int], timeout: float) -> list[dict]:
    deadline = time.monotonic() + timeout
    marks = ",".join(["%s"] * len(ids))
    conn = admin_connection(mesh)
    try:
        while True:
            with conn.cursor() as cur:
                cur.execute(
                    "SELECT id, status, created_at, finished_at FROM images WHERE id IN (" + marks + ")", ids
                )
                rows = cur.fetchall()
            if all(r["status"] in FINAL for r in rows) or time.monotonic() > deadline:
                return rows
            time.sleep(0.05)
    finally:
        conn.close()


def _post_all(mesh, paths: list[str]) -> list[int]:
    with mesh.api() as api:
        body = api.post("/images/post", json={"paths": paths}).json()
    return [r["id"] for r in body["results"]]


def run(report, mesh, photos: list[str], rounds: int, processes: int, idle_posts: int) -> dict:
    start_recognizers(mesh, processes)
    workers = 2 * processes
    restart(mesh, "processor", PROCESSOR_WORKERS=str(workers))
    # The recognizer alone on the same photos and cores: the figure to come close to.
    identify_load(mesh.recognizer_address, photos[:workers], workers)
    alone = median([identify_load(mesh.recognizer_address, photos, workers)[0] for _ in range(rounds)])
    solo = percentile(
        [t for _ in range(rounds) for t in identify_load(mesh.recognizer_address, photos[:idle_posts], 1)[1]],
        50,
    )
    # Idle: one image at a time, each posted once the previous one is final.
    idle = []
    for path in copies(mesh, "bench-e2e-idle", photos[:idle_posts], idle_posts * rounds):
        [row] = _wait_final(mesh, _post_all(mesh, [path]), 60)
        idle.append((row["finished_at"] - row["created_at"]).total_seconds())
    # Backlog: everything posted at once, several passes of the photos.
    rates, backlog = [], []
    for index in range(rounds):
        paths = copies(mesh, f"bench-e2e-backlog-{index}", photos, len(photos) * 2)
        rows = _wait_final(mesh, _post_all(mesh, paths), 600)
        first = min(r["created_at"] for r in rows)
        last = max(r["finished_at"] for r in rows if r["finished_at"])
        rates.append(len(rows) / (last - first).total_seconds())
        backlog += [(r["finished_at"] - r["created_at"]).total_seconds() for r in rows if r["finished_at"]]
    result = {
        "processes": processes,
        "workers": workers,
        "alone": alone,
        "rate": median(rates),
        "ratio": median(rates) / alone,
        "solo_p50": solo,
        "idle": {q: percentile(idle, q) for q in (50, 95, 99)},
        "backlog": {q: percentile(backlog, q) for q in (50, 95, 99)},
    }
    report.section(
        "3. End to end: POST to final status",
        f"R = {processes} recognizer processes, P = 1 processor with {workers} workers. Idle: "
        f"{len(idle)} posts one at a time; backlog: {rounds} rounds of {2 * len(photos)} posts at "
        "once (copies of the photos). Latency is MySQL's `finished_at - created_at`.",
    )
    report.table(
        ["case", "images/s", "p50 ms", "p95 ms", "p99 ms"],
        [
            ["recognizer alone (gRPC)", alone, solo * 1000, "", ""],
            ["end to end, idle", "", *(result["idle"][q] * 1000 for q in (50, 95, 99))],
            ["end to end, backlog", result["rate"], *(result["backlog"][q] * 1000 for q in (50, 95, 99))],
        ],
    )
    report.section(
        "End-to-end verdicts",
        f"Throughput under backlog is **{result['ratio']:.0%}** of the recognizer alone (target ≥ 90%). "
        f"Idle p50 is **{(result['idle'][50] - solo) * 1000:.0f} ms** over the recognizer's own p50 on "
        "the same photos (target ≤ 50 ms).",
    )
    return result
