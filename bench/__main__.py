"""`python -m bench [--out DIR] [--only a,b]`: run the suite, write DIR/report.md and plots.

BENCH_QUICK=1 (or --quick) runs fewer rounds and smaller loads (about 3 minutes instead of 15).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import signal
import sys
import tempfile
import time
from pathlib import Path

from bench import (
    batching,
    burst,
    clustering,
    cold_start,
    end_to_end,
    ingest,
    matching,
    recognition,
    scale,
    service,
)
from bench.mesh import running_mesh
from bench.photos import photo_set
from bench.report import Report

log = logging.getLogger("bench")
SECTIONS = [
    "recognition",
    "batching",
    "matching",
    "clustering",
    "service",
    "e2e",
    "ingest",
    "cold_start",
    "burst",
    "scale",
]


def main() -> None:
    # SIGTERM (a `timeout`, a cancelled job) unwinds like Ctrl-C: each private mesh stops its
    # services, nsqd and MariaDB in its `finally`. Python's default handler ended the process
    # at once and left them all running, holding 1 GB and their ports.
    signal.signal(signal.SIGTERM, lambda signum, _frame: sys.exit(128 + signum))
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", type=Path, default=Path(os.environ.get("BENCH_OUT", "bench-results")))
    parser.add_argument("--quick", action="store_true", default=os.environ.get("BENCH_QUICK") == "1")
    parser.add_argument("--only", default=os.environ.get("BENCH_ONLY", ",".join(SECTIONS)))
    args = parser.parse_args()
    only = [s.strip() for s in args.only.split(",") if s.strip()]
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)
    quick = args.quick
    report = Report(args.out, "kubeface benchmark")
    report.section(
        "Machine",
        f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, Python "
        f"{platform.python_version()}; {'quick' if quick else 'full'} mode; "
        f"{time.strftime('%Y-%m-%d %H:%M')}. Command: `make bench{' BENCH_QUICK=1' if quick else ''}`.",
    )
    results: dict[str, object] = {}
    started = time.perf_counter()
    if "recognition" in only:
        log.info("recognition: baseline against the service pipeline, one core")
        results["recognition"] = recognition.run(report, rounds=2 if quick else 5)
    if "batching" in only:
        log.info("batching: one image at a time against batches, on the installed dlib")
        results["batching"] = batching.run(report, rounds=1 if quick else 3)
    if "matching" in only:
        log.info("matching against many known faces")
        sizes = matching.SIZES if not quick else [1_000, 100_000, 1_000_000]
        results["matching"] = matching.run(report, queries=10 if quick else 30, sizes=sizes)
    if "clustering" in only:
        log.info("clustering unknown faces beside many placed ones")
        results["clustering"] = clustering.run(report, adds=200 if quick else 1000)
    if {"service", "e2e", "ingest", "cold_start", "burst"} & set(only):
        root, photos, _ = photo_set()
        names = [f"shared/{p.name}" for p in photos] if root.name == "faces" else [p.name for p in photos]
        with tempfile.TemporaryDirectory(prefix="kubeface-bench-") as work, running_mesh(Path(work)) as mesh:
            if "service" in only:
                log.info("recognizer service over gRPC")
                results["service"] = service.run(
                    report, mesh, names, rounds=1 if quick else 3, process_counts=[1, os.cpu_count() or 1]
                )
            if "e2e" in only:
                log.info("end to end")
                results["e2e"] = end_to_end.run(
                    report,
                    mesh,
                    names,
                    rounds=1 if quick else 2,
                    processes=1,  # one recognizer process alone; the burst section runs the defaults
                    idle_posts=5 if quick else 10,
                )
                results["e2e"]["processor_rss_mb"] = _rss(mesh, "processor")
                results["e2e"]["frontend_rss_mb"] = _rss(mesh, "frontend")
                report.section(
                    "Memory after the end-to-end runs",
                    f"Processor RSS {results['e2e']['processor_rss_mb']:.0f} MB, frontend RSS "
                    f"{results['e2e']['frontend_rss_mb']:.0f} MB (target: each at most 150 MB under load).",
                )
            if "ingest" in only:
                log.info("receiver ingest")
                results["ingest"] = ingest.run(
                    report, mesh, [1, 8, 64, 256], count=600 if quick else 6000, rounds=1 if quick else 5
                )
            if "burst" in only:
                log.info("burst: every photo at once to make run's defaults")
                results["burst"] = burst.run(report, mesh, names, rounds=1 if quick else 3)
            if "cold_start" in only:
                log.info("cold start")
                sizes = [10_000, 100_000]
                results["cold_start"] = cold_start.run(report, mesh, sizes, rounds=1 if quick else 3)
    if "scale" in only:
        log.info("scale: every read against 1M and 10M rows (its own mesh and database)")
        results["scale"] = scale.run(report, quick)
    report.section("Run", f"The suite took {time.perf_counter() - started:.0f} s.")
    (args.out / "results.json").write_text(json.dumps(results, indent=2, default=str))
    log.info("report written to %s", report.write())


def _rss(mesh, name: str) -> float:
    from bench.stats import rss_mb

    proc = mesh.services.get(name)
    return rss_mb(proc.popen.pid) if proc is not None and proc.running else float("nan")


if __name__ == "__main__":
    main()
