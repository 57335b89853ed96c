"""Item 4: accepted posts per second at several concurrencies; each 202 means committed and published.

The load comes from a small asyncio HTTP/1.1 client with keep-alive connections: cheap enough
that the receiver, not the client, is what gets measured on a 2-core machine.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid

from bench.stats import percentile, rss_mb
from tests.conftest import API_TOKEN


async def _worker(host, port, paths, latencies, statuses) -> None:
    reader, writer = await asyncio.open_connection(host, port)
    try:
        while paths:
            body = json.dumps({"path": paths.pop()}).encode()
            request = (
                f"POST /image/post HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n"
                f"Authorization: Bearer {API_TOKEN}\r\nContent-Length: {len(body)}\r\n\r\n"
            ).encode() + body
            started = time.perf_counter()
            writer.write(request)
            head = await reader.readuntil(b"\r\n\r\n")
            length = 0
            for line in head.split(b"\r\n"):
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":")[1])
            await reader.readexactly(length)
            latencies.append(time.perf_counter() - started)
            statuses.append(int(head.split(b" ", 2)[1]))
    finally:
        writer.close()


async def _load(host: str, port: int, concurrency: int, count: int) -> tuple[float, list[float], list[int]]:
    tag = uuid.uuid4().hex[:8]
    paths = [f"bench-ingest/{tag}/{i}.jpg" for i in range(count)]
    latencies: list[float] = []
    statuses: list[int] = []
    started = time.perf_counter()
    await asyncio.gather(*(_worker(host, port, paths, latencies, statuses) for _ in range(concurrency)))
    return time.perf_counter() - started, latencies, statuses


def run(report, mesh, levels: list[int], count: int, rounds: int) -> dict:
    mesh.stop("processor")  # only the receiver, MariaDB and nsqd on the cores
    host, port = mesh.receiver_url.removeprefix("http://").split(":")
    results = {}
    for concurrency in levels:
        best = None
        for _ in range(rounds):
            seconds, latencies, statuses = asyncio.run(_load(host, int(port), concurrency, count))
            accepted = sum(1 for s in statuses if s == 202)
            run_result = {
                "rate": accepted / seconds,
                "p50": percentile(latencies, 50),
                "p99": percentile(latencies, 99),
                "refused": len(statuses) - accepted,
            }
            best = run_result if best is None else best
            results.setdefault(concurrency, []).append(run_result)
        runs = results[concurrency]
        results[concurrency] = {k: sorted(r[k] for r in runs)[len(runs) // 2] for k in best}
    receiver_rss = rss_mb(mesh.services["receiver"].popen.pid)
    report.section(
        "4. Receiver ingest",
        f"`POST /image/post` with new paths, {count} posts per run, median of {rounds} runs; "
        "a 202 comes only after the row is committed in MariaDB and nsqd accepted the id "
        "(group commit and one MPUB per batch, `receiver/ingest.py`). Processor stopped. "
        f"Receiver RSS afterwards: {receiver_rss:.0f} MB.",
    )
    report.table(
        ["concurrency", "accepted posts/s", "p50 ms", "p99 ms", "not 202"],
        [[c, r["rate"], r["p50"] * 1000, r["p99"] * 1000, r["refused"]] for c, r in results.items()],
    )
    report.lines(
        "ingest",
        "Accepted posts per second",
        levels,
        {"posts/s": [results[c]["rate"] for c in levels]},
        xscale="log",
        xlabel="concurrent clients",
        ylabel="posts/s",
    )
    return {"levels": results, "receiver_rss_mb": receiver_rss}
