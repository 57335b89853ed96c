"""A steady stream of posts for LOAD_SECONDS while the mesh drains the queue (`make load`: 5 min).

Checks no request errors, every record final at the end, and flat memory in every service; the
receiver's p99 latency and the memory figures go to test-artifacts/load/summary.json, each
service's RSS over time to rss.csv and rss.png beside it. `make soak` runs it for an hour.
"""

from __future__ import annotations

import csv
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.load.rss_series import RssSampler

LOAD_SECONDS = int(os.environ.get("LOAD_SECONDS", "20"))
RATE_PER_SECOND = int(os.environ.get("LOAD_RATE", "3"))  # what 2 cores recognise as they arrive
DRAIN_BOUND_SECONDS = 240  # after the stream stops, every row is final within this

# The suite's 600 s timeout would cut a long run short: allow the stream, the drain and the mesh's start.
pytestmark = [
    pytest.mark.mesh,
    pytest.mark.load,
    pytest.mark.timeout(LOAD_SECONDS + DRAIN_BOUND_SECONDS + 600),
]
SERVICES = ("receiver", "processor", "recognizer", "frontend")
# Flat memory: the last third of the run may use at most this much more than the first third.
RSS_GROWTH_ALLOWED = 1.25
RSS_SLACK_MB = 15
# A run of half an hour or more (`make soak`) also bounds the trend after the first third: what a
# leak would add per hour. 3 MB/h would take a processor pod a week to reach its 512 MiB limit.
TREND_MIN_SECONDS = 1800
RSS_TREND_ALLOWED_MB_PER_HOUR = 3.0


def test_steady_load_completes_without_errors_or_memory_growth(mesh, artifacts_dir):
    out = artifacts_dir / "load"
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    count = LOAD_SECONDS * RATE_PER_SECOND
    folder = mesh.image_root / "load"
    folder.mkdir(exist_ok=True)
    for index in range(count):
        os.link(mesh.image_root / "obama2.jpg", folder / f"{index:05}.jpg")

    sampler = RssSampler({name: mesh.services[name].popen.pid for name in SERVICES})
    locust = Path(sys.executable).with_name("locust")
    env = {**mesh.env, "LOAD_PATH_PREFIX": "load/", "LOAD_PATH_COUNT": str(count)}
    with sampler:
        result = subprocess.run(
            [
                str(locust),
                "-f",
                str(Path(__file__).with_name("locustfile.py")),
                "--headless",
                "--host",
                mesh.receiver_url,
                "--users",
                str(RATE_PER_SECOND),
                "--spawn-rate",
                str(RATE_PER_SECOND),
                "--run-time",
                f"{LOAD_SECONDS + 10}s",
                "--stop-timeout",
                "10",
                "--csv",
                str(out / "locust"),
                "--only-summary",
            ],
            env=env,
            capture_output=True,
            text=True,
            timeout=LOAD_SECONDS + 120,
        )
        (out / "locust.log").write_text(result.stdout + result.stderr)
        ids = [row["id"] for row in mesh.sql("SELECT id FROM images WHERE path LIKE 'load/%%'")]
        deadline = time.monotonic() + DRAIN_BOUND_SECONDS
        while time.monotonic() < deadline:
            waiting = mesh.sql(
                "SELECT COUNT(*) AS n FROM images"
                " WHERE path LIKE 'load/%%' AND status IN ('QUEUED', 'PROCESSING')"
            )[0]["n"]
            if waiting == 0:
                break
            time.sleep(1)

    with open(out / "locust_stats.csv") as handle:
        total = next(row for row in csv.DictReader(handle) if row["Name"] == "Aggregated")
    statuses = mesh.sql("SELECT status, COUNT(*) AS n FROM images WHERE path LIKE 'load/%%' GROUP BY status")
    growth = sampler.figures()
    sampler.write_csv(out / "rss.csv")
    sampler.write_png(out / "rss.png")
    summary = {
        "seconds": LOAD_SECONDS,
        "rate_per_second": RATE_PER_SECOND,
        "requests": int(total["Request Count"]),
        "failures": int(total["Failure Count"]),
        "p50_ms": float(total["50%"]),
        "p99_ms": float(total["99%"]),
        "statuses": {row["status"]: row["n"] for row in statuses},
        "rss": growth,
    }
    (out / "summary.json").write_text(json.dumps(summary, indent=2))

    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    # Every prepared path was accepted once (locust's own count can miss the last in-flight few).
    assert summary["failures"] == 0 and len(ids) == count, summary
    assert set(summary["statuses"]) == {"PROCESSED"}, summary
    for name, rss in growth.items():
        assert rss["last_mb"] <= rss["first_mb"] * RSS_GROWTH_ALLOWED + RSS_SLACK_MB, (name, rss)
        if LOAD_SECONDS >= TREND_MIN_SECONDS:
            assert rss["trend_mb_per_hour"] <= RSS_TREND_ALLOWED_MB_PER_HOUR, (name, rss)
