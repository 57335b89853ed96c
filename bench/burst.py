"""The hidden check's analogue: every photo posted at once to a mesh with `make run`'s defaults.

The time from the post until every row is final, divided by plain face_recognition's total on
one core for the same photos (bench/recognition.py's baseline pass, run in the same bench run,
alternating with the bursts so that machine noise falls on both). Target: at most 0.35.
"""

from __future__ import annotations

import time

from bench.end_to_end import _post_all, _wait_final
from bench.mesh import copies, restart
from bench.recognition import _run_pass
from bench.stats import child_pids, median, rss_mb
from kubeface.settings import Settings

MIN_IMAGES = 40


def start_with_make_run_defaults(mesh, processes: str = "auto", connections: str = "auto") -> int:
    """The recognizer and processor as the Procfile starts them: no process or worker overrides
    (the arguments are there to compare with other values); how many recognizer processes."""
    defaults = Settings.model_fields
    log = mesh.services["recognizer"].log_path
    logged_before = log.stat().st_size if log.exists() else 0
    restart(mesh, "recognizer", RECOGNIZER_PROCESSES=processes)
    restart(
        mesh,
        "processor",
        PROCESSOR_WORKERS=str(defaults["processor_workers"].default),
        RECOGNIZER_CONNECTIONS=connections,
    )
    expected = Settings(recognizer_processes=processes).resolved_recognizer_processes
    # Health answers once the first process serves; the others listen once they serve too.
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if log.read_bytes()[logged_before:].count(b"recognizer serving") >= expected:
            break
        time.sleep(0.2)
    return expected


def run(report, mesh, photos: list[str], rounds: int) -> dict:
    processes = start_with_make_run_defaults(mesh)
    copies_per_photo = -(-MIN_IMAGES // len(photos))
    count = copies_per_photo * len(photos)
    bursts, baselines = [], []
    _post_and_wait(mesh, copies(mesh, "bench-burst-warm", photos, len(photos)))  # first calls allocate
    for index in range(rounds):
        baseline = _run_pass("baseline", {})["seconds"]
        baselines.append(copies_per_photo * sum(baseline.values()))
        bursts.append(_post_and_wait(mesh, copies(mesh, f"bench-burst-{index}", photos, count)))
    recognizer = mesh.services["recognizer"].popen.pid
    rss = [rss_mb(pid) for pid in child_pids(recognizer)] or [rss_mb(recognizer)]
    result = {
        "images": count,
        "processes": processes,
        "burst_seconds": median(bursts),
        "baseline_seconds": median(baselines),
        "ratio": median(bursts) / median(baselines),
        "recognizer_rss_mb": rss,
    }
    report.section(
        "Burst: every photo posted at once to `make run`'s defaults",
        f"{count} images ({copies_per_photo} copies of each of the {len(photos)} photos) in one "
        f"`/images/post`; time until every row is final, median of {rounds}. Recognizer with "
        f"RECOGNIZER_PROCESSES=auto ({result['processes']} here), processor with its default "
        "workers. Against plain face_recognition's single-core total on the same images (its "
        "pass pinned to one core, alternating with the bursts). Recognizer RSS per process: "
        + ", ".join(f"{r:.0f} MB" for r in rss)
        + ". Command: `.venv/bin/python -m bench --only burst`.",
    )
    report.table(
        ["images", "burst s", "face_recognition 1 core s", "burst / face_recognition (target ≤ 0.35)"],
        [[count, result["burst_seconds"], result["baseline_seconds"], result["ratio"]]],
    )
    return result


def _post_and_wait(mesh, paths: list[str]) -> float:
    started = time.perf_counter()
    rows = _wait_final(mesh, _post_all(mesh, paths), 600)
    assert all(r["status"] != "FAILED" for r in rows), [r for r in rows if r["status"] == "FAILED"][:3]
    return time.perf_counter() - started
