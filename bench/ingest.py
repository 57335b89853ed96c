"""Item 4: accepted posts per second at several concurrencies; each 202 means committed and published.

The load comes from a small asyncio HTTP/1.1 client on uvloop with keep-alive connections:
cheap enough that the receiver, not the client, is what gets measured on a 2-core machine. It is measured
with one receiver process and with `make run`'s default, one per usable CPU sharing the port
(RECEIVER_PROCESSES=auto; the kernel spreads the client's connections over them).

At 64 connections the same receiver is also measured with wrk (a C load generator, as issue 15
measured; `make bench` installs Debian's package), which takes less of the 2 cores than any
Python client; skipped, with the reason in the report, where wrk is not installed.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
import time
import uuid
from pathlib import Path

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


WRK_SCRIPT = Path(__file__).with_name("wrk_posts.lua")
WRK_CONNECTIONS = 64


def _wrk(url: str, seconds: int) -> dict | None:
    """Posts/s and p99 from one wrk run with unique paths; None where wrk is not installed."""
    wrk = shutil.which("wrk")
    if wrk is None:
        return None
    env = {**os.environ, "WRK_TAG": uuid.uuid4().hex[:8], "WRK_TOKEN": API_TOKEN}
    argv = [wrk, "-t1", f"-c{WRK_CONNECTIONS}", f"-d{seconds}s", "--latency", "-s", str(WRK_SCRIPT), url]
    out = subprocess.run(argv, env=env, capture_output=True, text=True, check=True).stdout
    fields = {line.split()[0]: line.split() for line in out.splitlines() if line.strip()}
    refused = int(fields["Non-2xx"][-1]) if "Non-2xx" in fields else 0
    return {"rate": float(fields["Requests/sec:"][1]), "p99": _seconds(fields["99%"][1]), "refused": refused}


def _seconds(shown: str) -> float:
    """wrk's latency ("850.00us", "207.01ms", "1.20s") in seconds."""
    for unit, scale in (("us", 1e-6), ("ms", 1e-3), ("s", 1.0)):
        if shown.endswith(unit):
            return float(shown.removesuffix(unit)) * scale
    raise ValueError(f"unexpected wrk latency {shown!r}")


def _middle_of_each(runs: list[dict]) -> dict:
    """Each figure's middle value over the runs (the upper middle for an even count)."""
    return {k: sorted(r[k] for r in runs)[len(runs) // 2] for k in runs[0]}


def run(
    report, mesh, levels: list[int], count: int, rounds: int, processes: tuple[str, ...] = ("1", "auto")
) -> dict:
    """Posts/s per concurrency, for each RECEIVER_PROCESSES value ("auto" is `make run`'s)."""
    mesh.stop("processor")  # only the receiver, MariaDB and nsqd on the cores
    host, port = mesh.receiver_url.removeprefix("http://").split(":")
    results: dict[str, dict[int, dict]] = {}
    by_wrk: dict[str, dict] = {}
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
            by_level[concurrency] = _middle_of_each(runs)
        wrk_runs = [_wrk(mesh.receiver_url, 5) for _ in range(rounds)]
        if all(wrk_runs):
            by_wrk[label] = _middle_of_each(wrk_runs)
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
    if by_wrk:
        report.table(
            ["RECEIVER_PROCESSES", "wrk connections", "accepted posts/s (wrk)", "p99 ms", "not 2xx"],
            [[n, WRK_CONNECTIONS, r["rate"], r["p99"] * 1000, r["refused"]] for n, r in by_wrk.items()],
        )
    else:
        report.section(
            "4b. Receiver ingest with wrk", "Skipped: wrk is not installed (`apt-get install wrk`)."
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
    return {"processes": results, "wrk": by_wrk, "receiver_rss_mb": receiver_rss}
