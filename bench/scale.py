"""Issue 15, part 1: the cost of every operator-facing read against the number of rows.

A private mesh (its own MariaDB: never the user's) is filled by bulk SQL (bench/scale_fill.py)
to each size in turn, growing the same tables; at each size every page, /metrics and CLI command
is timed, median of 5 after one warm-up. The data folder is removed at the end.
"""

from __future__ import annotations

import importlib.util
import logging
import math
import os
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager, nullcontext
from pathlib import Path

import httpx

from bench.mesh import admin_connection, running_mesh
from bench.scale_fill import FillStep, add_people, enrol_now, grow_images, image_path
from bench.stats import median
from tests.servers import mysql_root

log = logging.getLogger(__name__)

PEOPLE = 1_000
SIZES = [100_000, 1_000_000, 10_000_000]
QUICK_SIZES = [100_000, 1_000_000]
ROUNDS = 5
SLOW_ROUNDS = 3  # a request whose warm-up took over SLOW_SECONDS: fewer rounds keep the run bounded
SLOW_SECONDS = 3.0
BUFFER_POOL = 1 << 30  # the test harness's 128 MB would make 10M rows a disk benchmark
SAMPLE_ID = 4242  # an image every size has
# Targets from issue 15 at 10M rows, in ms; None: the issue sets none.
PAGE, SEARCH = 50.0, 100.0
REAL_RETRY = "C retry"  # moves rows: timed with the processor stopped (_processor_stopped)
Costs = dict[int, dict[str, float]]  # rows -> request label -> median ms


def _requests(person_id: int) -> list[tuple[str, str, float | None]]:
    """(label, what to run, target ms): 'F /path' frontend, 'O /path' a
    signed-in operator's frontend (the audit page is theirs only), 'R /path' receiver, 'C args' the CLI."""
    hit = Path(image_path(SAMPLE_ID)).stem  # img_0004242
    return [
        ("frontend /", "F /", PAGE),
        ("/?status=PENDING", "F /?status=PENDING", PAGE),
        ("/?status=FAILED", "F /?status=FAILED", PAGE),
        (f"/?q={hit} (hit)", f"F /?q={hit}", SEARCH),
        ("/?q=… (miss)", "F /?q=img_nowhere_zz", SEARCH),
        ("/people", "F /people", PAGE),
        ("/person/{id}", f"F /person/{person_id}", PAGE),
        ("/image/{id}", f"F /image/{SAMPLE_ID}", PAGE),
        ("/system", "F /system", PAGE),
        ("/unknown", "F /unknown", PAGE),
        ("/audit (operator)", "O /audit", PAGE),
        ("frontend /metrics", "F /metrics", PAGE),
        ("receiver /metrics", "R /metrics", PAGE),
        ("receiver GET /image/{id}", f"R /image/{SAMPLE_ID}", None),
        ("kubeface status", "C status", 200.0),
        ("kubeface retry --dry-run", "C retry --dry-run", 1000.0),
        ("kubeface --help", "C --help", None),
        # Last at each size: it moves rows (up to RETRY_BATCH_SIZE per kind, a few thousand of
        # millions) and publishes them.
        ("kubeface retry (a real pass)", REAL_RETRY, 1000.0),
    ]


def _caller(mesh, clients: dict[str, httpx.Client], what: str) -> Callable[[], None]:
    kind, rest = what.split(" ", 1)
    if kind == "C":
        args = rest.split()

        def command() -> None:
            done = mesh.run(*args, timeout=600)
            if done.returncode != 0:
                raise RuntimeError(f"kubeface {rest} exited {done.returncode}: {done.stderr[-2000:]}")

        return command
    client = clients[kind]

    def request() -> None:
        response = client.get(rest)
        if response.status_code != 200:
            raise RuntimeError(f"GET {rest} answered {response.status_code}: {response.text[:500]}")

    return request


@contextmanager
def _processor_stopped(mesh) -> Iterator[None]:
    """The processor stopped, and its channel emptied before it starts again: the ids a real retry
    pass publishes would otherwise be worked on (and fail: the files do not exist) under the next
    figures."""
    mesh.stop("processor")
    try:
        yield
    finally:
        defaults = mesh.settings()  # the mesh keeps the topic's and channel's default names
        httpx.post(
            f"http://{mesh.env['NSQD_HTTP_ADDRESS']}/channel/empty",
            params={"topic": defaults.nsq_topic, "channel": defaults.nsq_channel},
            timeout=30,
        ).raise_for_status()
        mesh.start("processor")


def _time_ms(call: Callable[[], None]) -> float:
    """Median wall time in ms after one warm-up; fewer rounds for a request that takes seconds."""
    started = time.perf_counter()
    call()
    rounds = SLOW_ROUNDS if time.perf_counter() - started > SLOW_SECONDS else ROUNDS
    times = []
    for _ in range(rounds):
        started = time.perf_counter()
        call()
        times.append((time.perf_counter() - started) * 1000)
    return median(times)


def _recount(mesh) -> str:
    """Rebuild the kept counters from the rows, where wt-counts' module exists (issue 15)."""
    if importlib.util.find_spec("kubeface.images.counts") is None:
        log.info("scale: kubeface.images.counts not present; no counters to rebuild")
        return "no counters to rebuild (kubeface.images.counts absent)"
    from kubeface.db import Database
    from kubeface.images import counts  # type: ignore[attr-defined]

    db = Database(mesh.settings())
    try:
        started = time.perf_counter()
        counts.recount(db)
        return f"counters rebuilt by kubeface.images.counts.recount in {time.perf_counter() - started:.1f} s"
    finally:
        db.close()


def _data_bytes(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())


def _room_for(work: Path, rows_now: int, rows_next: int) -> bool:
    """Whether the disk holds the next size, with twice the space the rows so far took per row."""
    per_row = _data_bytes(work / "mariadb") / max(rows_now, 1)
    needed = 2 * per_row * (rows_next - rows_now)
    free = shutil.disk_usage(work).free
    if free < needed:
        log.warning(
            "scale: %d rows need about %.1f GB; %.1f GB free: stopping", rows_next, needed / 1e9, free / 1e9
        )
    return free >= needed


def _measure_sizes(mesh, work: Path, sizes: list[int]) -> tuple[Costs, list[FillStep], str]:
    conn = admin_connection(mesh)
    conn.autocommit(False)
    person0 = add_people(conn, PEOPLE)
    requests = _requests(person0 + 43)
    results: Costs = {}
    fills: list[FillStep] = []
    recount = ""
    rows = 0
    frontend = httpx.Client(base_url=mesh.frontend_url, timeout=600)
    clients = {"F": frontend, "O": mesh.operator(), "R": mesh.api()}
    for client in clients.values():
        client.timeout = httpx.Timeout(600)
    try:
        for size in sizes:
            if rows and not _room_for(work, rows, size):
                break
            log.info("scale: growing images from %d to %d rows", rows, size)
            fills.append(grow_images(conn, rows, size, person0, PEOPLE))
            rows = size
            recount = _recount(mesh)
            # An enrolment newer than every row: the retry pass has PENDING rows with faces to
            # re-identify, among the PENDING rows with none (10%) that it must not read again.
            enrol_now(conn, person0 + 1, f"{size}")
            results[size] = {}
            for label, what, _ in requests:
                try:
                    with _processor_stopped(mesh) if what == REAL_RETRY else nullcontext():
                        results[size][label] = _time_ms(_caller(mesh, clients, what))
                except (RuntimeError, httpx.HTTPError) as exc:
                    # One failed read must not cost the other figures: the report shows it failed.
                    log.error("scale: %d rows, %s failed: %s", size, label, exc)
                    results[size][label] = float("nan")
                    continue
                log.info("scale: %d rows, %s: %.1f ms", size, label, results[size][label])
    finally:
        for client in clients.values():
            client.close()
        conn.close()
    return results, fills, recount


@contextmanager
def _private_tmpdir(folder: Path) -> Iterator[None]:
    """MariaDB's on-disk temporary tables go in TMPDIR (read when mariadbd starts): a folder of the
    bench's own, not the /tmp that other jobs on the machine clean up under a running query."""
    folder.mkdir()
    before = os.environ.get("TMPDIR")
    os.environ["TMPDIR"] = str(folder)
    try:
        yield
    finally:
        if before is None:
            del os.environ["TMPDIR"]
        else:
            os.environ["TMPDIR"] = before


def run(report, quick: bool) -> dict:
    sizes = QUICK_SIZES if quick else SIZES
    with tempfile.TemporaryDirectory(prefix="kubeface-scale-") as folder, ExitStack() as stack:
        work = Path(folder) / "mesh"
        with _private_tmpdir(Path(folder) / "tmp"):
            mesh = stack.enter_context(running_mesh(work))
        mysql_root(mesh.mariadb_socket, f"SET GLOBAL innodb_buffer_pool_size = {BUFFER_POOL}")
        results, fills, recount = _measure_sizes(mesh, work, sizes)
    _report(report, results, fills, recount, _requests(0))
    return {"ms": results, "fill": [vars(step) | {"rows_per_second": step.rows_per_second} for step in fills]}


def _report(report, results: Costs, fills: list[FillStep], recount: str, requests) -> None:
    sizes = sorted(results)
    largest = sizes[-1] if sizes else 0
    report.section(
        "Scale: reads against the number of rows",
        f"`images` filled by bulk SQL (MariaDB Sequence engine, {PEOPLE:,} people; statuses 60% "
        "PROCESSED, 30% PENDING, 5% FAILED, 3% QUEUED and 2% PROCESSING, the last two years old: "
        "stale work for the retry pass; one face per PROCESSED and PENDING image but the 10% that are "
        "PENDING with no face), grown in place from one size to the next, then one enrolment newer "
        "than every row (the retry pass re-identifies PENDING rows with faces); "
        f"InnoDB buffer pool {BUFFER_POOL >> 20} MB. Each figure is the median wall time of "
        f"{ROUNDS} requests after one warm-up ({SLOW_ROUNDS} where the warm-up took over "
        f"{SLOW_SECONDS:.0f} s); CLI commands are whole processes. {recount}. Targets (issue 15) "
        f"are for 10M rows; 'met' is judged at {largest:,} rows. "
        "Command: `.venv/bin/python -m bench --only scale` (BENCH_QUICK=1: 100k and 1M).",
    )
    report.table(
        ["rows added", "fill seconds", "rows/s"],
        [[f"{s.rows_before:,} → {s.rows_after:,}", s.seconds, f"{s.rows_per_second:,.0f}"] for s in fills],
    )
    rows = []
    for label, _, target in requests:
        cost = results[largest][label] if sizes else float("nan")
        verdict = "—" if target is None else ("met" if cost <= target else "not met")
        if math.isnan(cost):
            verdict = "failed (see the bench log)"
        rows.append([label, *[results[s][label] for s in sizes], "—" if target is None else target, verdict])
    report.table(["request", *[f"ms at {s:,}" for s in sizes], "target ms", f"at {largest:,}"], rows)
    if len(sizes) > 1:
        report.lines(
            "scale",
            "Cost of each read against rows in images",
            [float(s) for s in sizes],
            {label: [results[s][label] for s in sizes] for label, _, _ in requests},
            figsize=(10, 5),
            legend_outside=True,
            xscale="log",
            yscale="log",
            xlabel="rows in images",
            ylabel="ms (median)",
        )
