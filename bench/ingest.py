"""Item 4: accepted posts per second at several concurrencies; each 202 means committed and published.

The load comes from a small asyncio HTTP/1.1 client on uvloop with keep-alive connections:
cheap enough that the receiver, not the client, is what gets measured on a 2-core machine. It is measured
with one receiver process and with `make run`'s default, one per usable CPU sharing the port
(RECEIVER_PROCESSES=auto; the kernel spreads the client's connections over them).
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid

import uvloop

from bench.mesh import restart
from bench.stats import child_pids, percentile, rss_mb
from kubeface.settings import Settings
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


async def _load(
    host: str, ports: list[int], concurrency: int, count: int
) -> tuple[float, list[float], list[int]]:
    tag = uuid.uuid4().hex[:8]
    paths = [f"bench-ingest/{tag}/{i}.jpg" for i in range(count)]
    latencies: list[float] = []
    statuses: list[int] = []
    started = time.perf_counter()
    await asyncio.gather(
        *(_worker(host, ports[i % len(ports)], paths, latencies, statuses) for i in range(concurrency))
    )
    return time.perf_counter() - started, latencies, statuses


def run(
    report, mesh, levels: list[int], count: int, rounds: int, processes: tuple[str, ...] = ("1", "auto")
) -> dict:
    """Posts/s per concurrency, for each RECEIVER_PROCESSES value ("auto" is `make run`'s)."""
    mesh.stop("processor")  # only the receiver, MariaDB and nsqd on the cores
    host, port = mesh.receiver_url.removeprefix("http://").split(":")
    results: dict[str, dict[int, dict]] = {}
    for value in processes:
        restart(mesh, "receiver", RECEIVER_PROCESSES=value)
        label = f"{value} ({Settings(receiver_processes=value).resolved_receiver_processes})"
        by_level = results.setdefault(label, {})
        for concurrency in levels:
            runs = []
            for _ in range(rounds):
                seconds, latencies, statuses = uvloop.run(_load(host, [int(port)], concurrency, count))
                accepted = sum(1 for s in statuses if s == 202)
                runs.append(
                    {
                        "rate": accepted / seconds,
                        "p50": percentile(latencies, 50),
                        "p99": percentile(latencies, 99),
                        "refused": len(statuses) - accepted,
                    }
                )
            by_level[concurrency] = {k: sorted(r[k] for r in runs)[len(runs) // 2] for k in runs[0]}
    receiver = mesh.services["receiver"].popen.pid
    receiver_rss = sum(rss_mb(pid) for pid in [receiver, *child_pids(receiver)])
    report.section(
        "4. Receiver ingest",
        f"`POST /image/post` with new paths, {count} posts per run, median of {rounds} runs; "
        "a 202 comes only after the row is committed in MariaDB and nsqd accepted the id "
        "(group commit and one MPUB per batch, `receiver/ingest.py`). Processor stopped. "
        "One receiver process, then `RECEIVER_PROCESSES=auto` (`make run`'s default: one per "
        f"usable CPU, sharing the port). Receiver RSS afterwards, all processes: {receiver_rss:.0f} MB. "
        "Command: `.venv/bin/python -m bench --only ingest`.",
    )
    report.table(
        ["RECEIVER_PROCESSES", "concurrency", "accepted posts/s", "p50 ms", "p99 ms", "not 202"],
        [
            [n, c, r["rate"], r["p50"] * 1000, r["p99"] * 1000, r["refused"]]
            for n, by_level in results.items()
            for c, r in by_level.items()
        ],
    )
    report.lines(
        "ingest",
        "Accepted posts per second",
        levels,
        {f"RECEIVER_PROCESSES={n}": [results[n][c]["rate"] for c in levels] for n in results},
        xscale="log",
        xlabel="concurrent clients",
        ylabel="posts/s",
    )
    return {"processes": results, "receiver_rss_mb": receiver_rss}
