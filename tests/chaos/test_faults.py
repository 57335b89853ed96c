"""Faults on the real mesh, each under a steady stream of posts (issue 4, "Faults").

Every test copies one photo of Obama (one face) to fresh paths under `chaos/<test>/`, posts them
from a background thread at a bounded rate, injects its fault, recovers, runs the retry job (two at
once, with a short lease and no backoff) and then checks, for every row under its prefix:

- every accepted post has exactly one row, with the id the receiver answered;
- every row is final within FINAL_BOUND_SECONDS, and none is left QUEUED or PROCESSING;
- no image was processed twice to different results: each row is PROCESSED as obama with exactly
  one `faces` row, whose person is obama.

`make test` runs a short version; `CHAOS_FULL=1` (what `make chaos` sets) posts more and keeps the
recognizer down for 30 s. Each test leaves the mesh as it found it: the services, MariaDB and nsqd
running on their usual ports, one processor and one recognizer, the breaker closed.
"""

from __future__ import annotations

import concurrent.futures
import json
import os
import shutil
import signal
import threading
import time
from collections.abc import Iterator

import httpx
import pytest

from tests.conftest import API_TOKEN, FINAL
from tests.servers import free_port, mysql_root, wait_until

pytestmark = [pytest.mark.mesh, pytest.mark.chaos]

FULL = os.environ.get("CHAOS_FULL") == "1"
# The stream: POSTS photos, one every POST_INTERVAL_SECONDS (so at most ~2 posts a second).
POSTS = 60 if FULL else 16
POST_INTERVAL_SECONDS = 0.5
# Fault 2: how long the recognizer stays down.
RECOGNIZER_OUTAGE_SECONDS = 30 if FULL else 8
# The bound for "every row reaches a final state", counted from the end of the fault's recovery
# (services back up). Generous: recognition of one photo takes about a second on the 2 shared
# CPU cores of CI, a stream is at most 60 photos, a killed processor's row waits for the retry
# job's lease (RETRY_ENV) and NSQ requeue delays run up to a few seconds.
FINAL_BOUND_SECONDS = 240
# The retry job as the tests run it after a fault: a short lease, so that a dead processor's row
# and a never-published row are re-queued within seconds, and no backoff for FAILED rows.
RETRY_ENV = {"RETRY_LEASE_SECONDS": "10", "RETRY_BACKOFF_SECONDS": "0"}
RETRY_EVERY_SECONDS = 5
# How long a post may take before the stream counts it as refused (MariaDB down, say).
POST_TIMEOUT_SECONDS = 20


class PostStream:
    """Posts copies of obama2.jpg under chaos/<name>/ from a thread: bounded in count and time."""

    def __init__(self, mesh, name: str, count: int = POSTS, interval: float = POST_INTERVAL_SECONDS) -> None:
        self.mesh, self.prefix, self.interval = mesh, f"chaos/{name}/", interval
        folder = mesh.image_root / "chaos" / name
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True)
        self.paths = [f"{self.prefix}{index:03}.jpg" for index in range(count)]
        for path in self.paths:
            shutil.copy(mesh.image_root / "obama2.jpg", mesh.image_root / path)
        self.accepted: dict[str, int] = {}  # path -> id, for 200/202 answers
        self.refused: dict[str, str] = {}  # path -> why (status and body, or the exception)
        self.first_refusals: dict[str, str] = {}  # every refusal, even of a path re-posted since
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"stream-{name}", daemon=True)

    def __enter__(self) -> PostStream:
        self._thread.start()
        return self

    def __exit__(self, exc_type, *_) -> None:
        if exc_type is not None:
            self._stop.set()  # the test failed: stop posting at once
        self.join()  # else let it post every path

    def _client(self) -> httpx.Client:
        return httpx.Client(
            base_url=self.mesh.receiver_url,
            timeout=POST_TIMEOUT_SECONDS,
            headers={"authorization": f"Bearer {API_TOKEN}"},
        )

    def _run(self) -> None:
        with self._client() as api:
            for path in self.paths:
                if self._stop.is_set():
                    return
                self._post(api, path)
                self._stop.wait(self.interval)

    def _post(self, api: httpx.Client, path: str) -> None:
        try:
            response = api.post("/image/post", json={"path": path})
        except httpx.HTTPError as exc:
            outcome = f"{type(exc).__name__}: {exc}"
        else:
            if response.status_code in (200, 202):
                with self._lock:
                    self.accepted[path] = response.json()["id"]
                    self.refused.pop(path, None)
                return
            outcome = f"{response.status_code} {response.text[:200]}"
        with self._lock:
            self.refused[path] = outcome
            self.first_refusals.setdefault(path, outcome)

    @property
    def done(self) -> int:
        with self._lock:
            return len(self.accepted) + len(self.refused)

    def wait_posted(self, count: int, timeout: float = 120) -> None:
        wait_until(lambda: self.done >= min(count, len(self.paths)), timeout, f"{count} posts")

    def join(self) -> None:
        self._thread.join(timeout=len(self.paths) * (self.interval + POST_TIMEOUT_SECONDS) + 30)
        assert not self._thread.is_alive(), "the post stream did not stop"

    def repost_refused(self) -> None:
        """What a client told 503 does ("post it again to queue it"); every path is then accepted."""
        with self._client() as api:
            for path in sorted(self.refused):
                self._post(api, path)
        assert not self.refused, f"posts still refused after recovery: {self.refused}"
        assert len(self.accepted) == len(self.paths)

    def rows(self) -> list[dict]:
        return self.mesh.sql(
            "SELECT id, path, status, person_id, detail, attempts FROM images WHERE path LIKE %s",
            (self.prefix + "%",),
        )


def retry_twice_at_once(
    mesh, env: dict[str, str] | None = None, *, disjoint: set[int] = frozenset()
) -> list[int]:
    """Two retry jobs at once: each exits 0, and no row of `disjoint` is won by both. The ids re-queued.

    Only rows that cannot become due again while the runs last may be checked: with backoff 0, a
    FAILED row of another test is re-queued, fails again within a second and is rightly re-queued
    by the other run; with a lease shorter than the runs, so is a row re-queued and not yet done.
    """
    env = {**RETRY_ENV, **(env or {})}

    def one(_: int) -> list[int]:
        result = mesh.run("retry", "--json", env=env)
        assert result.returncode == 0, result.stdout + result.stderr
        report = json.loads(result.stdout.strip().splitlines()[-1])
        return [image_id for ids in report["by_reason"].values() for image_id in ids]

    with concurrent.futures.ThreadPoolExecutor(2) as pool:
        first, second = pool.map(one, range(2))
    both = set(first) & set(second) & set(disjoint)
    assert not both, f"two retry runs both re-queued {both}"
    assert len(first) == len(set(first)) and len(second) == len(set(second))
    return first + second


def settle(mesh, stream: PostStream, *, retry: bool = True, extra_rows: int = 0) -> dict[str, set[str]]:
    """Wait until every row under the stream's prefix is PROCESSED, running the retry job (twice at
    once) every few seconds when `retry`. Fails after FINAL_BOUND_SECONDS. Returns, per status,
    the details seen on the way (a FAILED row is re-queued by the retry job)."""
    seen: dict[str, set[str]] = {}
    expected = len(stream.accepted) + extra_rows
    deadline = time.monotonic() + FINAL_BOUND_SECONDS
    last_retry = time.monotonic()  # give the mesh one period to recover on its own first
    while True:
        rows = stream.rows()
        for row in rows:
            seen.setdefault(row["status"], set()).add(row["detail"] or "")
        if len(rows) >= expected and all(row["status"] == "PROCESSED" for row in rows):
            return seen
        if time.monotonic() > deadline:
            counts: dict[str, int] = {}
            for row in rows:
                counts[row["status"]] = counts.get(row["status"], 0) + 1
            raise AssertionError(
                f"not all {expected} rows PROCESSED after {FINAL_BOUND_SECONDS}s: {counts};"
                f" not final: {[row for row in rows if row['status'] not in FINAL][:10]}"
            )
        if retry and time.monotonic() - last_retry > RETRY_EVERY_SECONDS:
            # Our rows never fail for good and the lease outlasts the runs: each is won once.
            retry_twice_at_once(mesh, disjoint={row["id"] for row in rows})
            last_retry = time.monotonic()
        time.sleep(1)


def check_outcomes(mesh, stream: PostStream, *, extra_rows: int = 0, **facts) -> None:
    """The invariants, after recovery and with the retry job run."""
    rows = stream.rows()
    print(  # noqa: T201 - a summary of what the fault did, shown by `pytest -rP`
        f"{stream.prefix}: {len(rows)} rows, {len(stream.accepted)} accepted,"
        f" attempts {sorted(row['attempts'] for row in rows)}, first refusals"
        f" {sorted(set(stream.first_refusals.values()))}, {facts}"
    )
    by_path: dict[str, list[dict]] = {}
    for row in rows:
        by_path.setdefault(row["path"], []).append(row)
    # Every accepted post has exactly one row, the one the receiver answered with.
    for path, image_id in stream.accepted.items():
        assert [row["id"] for row in by_path.get(path, [])] == [image_id], path
    assert len(rows) == len(stream.accepted) + extra_rows
    # Nothing is left QUEUED or PROCESSING; everything is final, and as expected.
    assert {row["status"] for row in rows} == {"PROCESSED"}, rows
    obama = mesh.sql("SELECT id FROM person WHERE name = 'obama'")[0]["id"]
    assert {row["person_id"] for row in rows} == {obama}
    # Processed once, or again to the same result: one face per image, obama's.
    faces = mesh.sql(
        "SELECT i.id, COUNT(f.id) AS n, MIN(f.person_id) AS lo, MAX(f.person_id) AS hi"
        " FROM images i LEFT JOIN faces f ON f.image_id = i.id WHERE i.path LIKE %s GROUP BY i.id",
        (stream.prefix + "%",),
    )
    assert {(face["n"], face["lo"], face["hi"]) for face in faces} == {(1, obama, obama)}, faces
    # A last pass of the retry job (twice at once) finds nothing of ours to re-queue.
    ours = {row["id"] for row in rows}
    assert not set(retry_twice_at_once(mesh, disjoint=ours)) & ours
    assert {row["status"] for row in stream.rows()} == {"PROCESSED"}
    for instance in ("recognizer", "receiver", "processor", "frontend"):
        assert mesh.services[instance].running, f"{instance} died: {mesh.services[instance].log_tail()}"


def _processor_in_flight(mesh) -> float:
    try:
        return mesh.metric(mesh.processor_metrics_url, "processor_in_flight")
    except (httpx.HTTPError, AssertionError):
        return 0.0


def _breaker_open(mesh) -> float:
    return mesh.metric(mesh.processor_metrics_url, "processor_breaker_open")


def _nsqd_up(mesh) -> bool:
    return httpx.get(f"http://{mesh.env['NSQD_HTTP_ADDRESS']}/ping", timeout=2).status_code == 200


def _mariadb_up(mesh) -> bool:
    return mesh.mariadb_socket.exists() and mysql_root(mesh.mariadb_socket, "SELECT 1") is not None


def _start_infra(mesh, name: str) -> None:
    proc = mesh.infra[name].start()
    check = {
        "mariadb": lambda: _mariadb_up(mesh),
        "nsqd": lambda: _nsqd_up(mesh),
        "nsqlookupd": lambda: (
            httpx.get(
                f"http://{mesh.env['NSQLOOKUPD_HTTP_ADDRESSES'].split(',')[0]}/ping", timeout=2
            ).status_code
            == 200
        ),
    }[name]
    wait_until(check, 120, name, proc)


@pytest.fixture(autouse=True)
def restored_mesh(mesh) -> Iterator[None]:
    """Whatever a test did, hand the next one the usual mesh back."""
    yield
    recognizer = mesh.services["recognizer"]
    if recognizer.running:
        os.kill(recognizer.popen.pid, signal.SIGCONT)  # in case a test left it stopped
    for name in ("mariadb", "nsqlookupd", "nsqd"):
        if not mesh.infra[name].running:
            _start_infra(mesh, name)
    for instance in [name for name in mesh.services if name.startswith(("processor-", "recognizer-"))]:
        mesh.stop(instance)
        del mesh.services[instance]
    for name in ("recognizer", "receiver", "processor", "frontend"):
        if not mesh.services[name].running:
            mesh.start(name)
    wait_until(lambda: _breaker_open(mesh) == 0, 120, "breaker closed")
    wait_until(lambda: httpx.get(mesh.receiver_url + "/readyz").status_code == 200, 120, "receiver ready")


# 2 ---------------------------------------------------------------------------------------------


def test_recognizer_down_for_a_while_fails_nothing(mesh):
    opened = 'processor_breaker_transitions_total{to_state="open"}'
    opened_before = mesh.metric(mesh.processor_metrics_url, opened, default=0.0)
    with PostStream(mesh, "recognizer_outage") as stream:
        stream.wait_posted(3)
        assert mesh.stop("recognizer") == 0, "the recognizer should exit cleanly on SIGTERM"
        outage_ends = time.monotonic() + RECOGNIZER_OUTAGE_SECONDS
        wait_until(lambda: _breaker_open(mesh) == 1, 60, "breaker open")
        time.sleep(max(0.0, outage_ends - time.monotonic()))
        during = stream.rows()
        mesh.start("recognizer")
    assert mesh.metric(mesh.processor_metrics_url, opened) >= opened_before + 1
    assert "FAILED" not in {row["status"] for row in during}
    assert not stream.refused, stream.refused  # the receiver does not need the recognizer
    # The breaker closes and the held messages complete, without the retry job: nothing FAILED.
    seen = settle(mesh, stream, retry=False)
    assert "FAILED" not in seen, seen
    check_outcomes(mesh, stream, seen=seen)


# 1 ---------------------------------------------------------------------------------------------


def test_processor_killed_in_the_middle_of_a_message(mesh):
    with PostStream(mesh, "processor_kill") as stream:
        stream.wait_posted(3)
        wait_until(lambda: _processor_in_flight(mesh) > 0, 60, "a message in flight")
        processor = mesh.services["processor"]
        processor.popen.send_signal(signal.SIGKILL)
        assert processor.popen.wait(10) == -signal.SIGKILL
        held = [row for row in stream.rows() if row["status"] == "PROCESSING"]
        stream.wait_posted(stream.done + 3)  # posts keep being accepted with no processor
        mesh.start("processor")
    assert not stream.refused, stream.refused
    # The killed processor's rows stay PROCESSING until the retry job's lease runs out.
    settle(mesh, stream)
    check_outcomes(mesh, stream, held_when_killed=[row["id"] for row in held])
    # A row it held was taken over and processed again: a second attempt, one result.
    for row in held:
        assert mesh.sql("SELECT attempts FROM images WHERE id = %s", (row["id"],))[0]["attempts"] >= 2


# 7 ---------------------------------------------------------------------------------------------


def test_two_retry_jobs_at_once_under_the_stream(mesh):
    stream = PostStream(mesh, "retry_race")
    # Rows whose message was lost: never published, and claimed by a processor that died.
    stale = [f"{stream.prefix}stale_{kind}_{index}.jpg" for kind in ("q", "p") for index in range(3)]
    for path in stale:
        shutil.copy(mesh.image_root / "obama2.jpg", mesh.image_root / path)
    for path in stale[:3]:
        mesh.sql(
            "INSERT INTO images (path, path_hash, queued_at) VALUES (%s, UNHEX(SHA2(%s, 256)),"
            " NOW(6) - INTERVAL 1 HOUR)",
            (path, path),
        )
    for path in stale[3:]:
        mesh.sql(
            "INSERT INTO images (path, path_hash, status, attempts, claim_token, started_at) VALUES"
            " (%s, UNHEX(SHA2(%s, 256)), 'PROCESSING', 1, 'dead0000000000000000000000000000',"
            " NOW(6) - INTERVAL 1 HOUR)",
            (path, path),
        )
    stale_ids = {row["id"] for row in stream.rows()}
    # Both runs see every stale row due; each row is won by exactly one of them.
    requeued = retry_twice_at_once(mesh, disjoint=stale_ids)
    assert stale_ids <= set(requeued)
    with stream:
        # Under the stream, with a lease so short that live rows are re-queued too.
        while stream.done < len(stream.paths):
            requeued += retry_twice_at_once(mesh, {"RETRY_LEASE_SECONDS": "1"})
            time.sleep(1)
    assert not stream.refused, stream.refused
    settle(mesh, stream, extra_rows=len(stale))
    check_outcomes(mesh, stream, extra_rows=len(stale), requeued=len(requeued))


# 3 ---------------------------------------------------------------------------------------------


def test_nsqd_restart_keeps_its_messages(mesh):
    nsqd = mesh.infra["nsqd"]
    with PostStream(mesh, "nsqd_restart") as stream:
        stream.wait_posted(2)
        # A backlog in nsqd: accepted while no processor consumes.
        assert mesh.stop("processor") == 0
        before = set(stream.accepted.values())
        stream.wait_posted(stream.done + 4)
        backlog = set(stream.accepted.values()) - before
        assert backlog, stream.refused
        assert nsqd.stop() == 0, "nsqd should exit cleanly on SIGTERM (it writes its queues to disk)"
        stream.wait_posted(stream.done + 2)  # posts while nsqd is down: stored, refused with 503
        _start_infra(mesh, "nsqd")  # same ports, same -data-path
        mesh.start("processor")
    # The backlog survived on disk: it completes with no retry job run and no re-post.
    wait_until(
        lambda: {row["status"] for row in stream.rows() if row["id"] in backlog} == {"PROCESSED"},
        FINAL_BOUND_SECONDS,
        "the backlog from before the restart",
    )
    stream.repost_refused()
    settle(mesh, stream)
    check_outcomes(mesh, stream, backlog=sorted(backlog))


# 4 ---------------------------------------------------------------------------------------------


def test_mariadb_restart(mesh):
    mariadb = mesh.infra["mariadb"]
    with PostStream(mesh, "mariadb_restart") as stream:
        stream.wait_posted(3)
        wait_until(lambda: _processor_in_flight(mesh) > 0, 60, "a message in flight")
        assert mariadb.stop(timeout=60) == 0
        stream.wait_posted(stream.done + 2)  # posts while MySQL is down are refused
        _start_infra(mesh, "mariadb")  # same datadir and port
    # Every service reconnects by itself: readiness comes back and posts are accepted again.
    wait_until(lambda: httpx.get(mesh.receiver_url + "/readyz").status_code == 200, 60, "receiver ready")
    stream.repost_refused()
    settle(mesh, stream)
    check_outcomes(mesh, stream)
    # Refusals while MySQL was down are clean 503s, never a 500 or a dropped connection.
    assert all(why.startswith("503") for why in stream.first_refusals.values()), stream.first_refusals


# 5 ---------------------------------------------------------------------------------------------


def test_recognizer_slower_than_the_processors_deadline(mesh):
    # A second processor whose deadline every recognition overruns: its calls fail
    # DEADLINE_EXCEEDED, count attempts and trip its breaker, while the usual one keeps working.
    impatient = {"RECOGNIZER_TIMEOUT_SECONDS": "0.05", "PROCESSOR_METRICS_PORT": str(free_port())}
    mesh.start("processor", instance="processor-2", env=impatient)
    impatient_metrics = f"http://127.0.0.1:{impatient['PROCESSOR_METRICS_PORT']}/metrics"
    try:
        with PostStream(mesh, "slow_recognizer") as stream:
            stream.wait_posted(len(stream.paths) // 2)
            # And the recognizer stalls for a while: slower than anyone's patience.
            recognizer = mesh.services["recognizer"].popen
            os.kill(recognizer.pid, signal.SIGSTOP)
            try:
                time.sleep(3)
            finally:
                os.kill(recognizer.pid, signal.SIGCONT)
        failures = mesh.metric(
            impatient_metrics, 'processor_messages_total{outcome="recognizer unavailable"}', default=0.0
        ) + mesh.metric(impatient_metrics, 'processor_messages_total{outcome="FAILED"}', default=0.0)
        assert failures > 0, "the impatient processor never timed out"
    finally:
        assert mesh.stop("processor-2") == 0
        del mesh.services["processor-2"]
    assert not stream.refused, stream.refused
    seen = settle(mesh, stream)
    # A row that ran out of attempts says why, and the retry job completed it.
    for detail in seen.get("FAILED", ()):
        assert detail.startswith("recognizer error after "), detail
    check_outcomes(mesh, stream, impatient_failures=failures, seen=seen)


# 6: killing the receiver between its commit and its publish is covered with the receiver's
# ingest path (a fault-injection setting there), not here.
