"""The mesh on a real Kubernetes (`make k8s-e2e`): deploy overlays/local, recognise real photos,
then roll every service in turn and scale the processors, each under a steady stream of posts.

After each phase, as in the chaos suite (tests/chaos/test_faults.py):
- every accepted post has exactly one row, with the id the receiver answered;
- every row ends PROCESSED as the one person in the photo, with one face, none left QUEUED or
  PROCESSING;
- no request failed meanwhile, neither a post to the receiver nor a page of the frontend (they
  drain on SIGTERM: preStop, readiness);
- a rollout of one service leaves every other pod as it was (same uid, no restart).
"""

from __future__ import annotations

import os
import threading
import time

import httpx
import pytest

from tests.k8s_e2e.conftest import OPERATOR, PhotoPool, recognised_as
from tests.k8s_e2e.kube import rollout_restart, run_retry_job, scale, serving_pods, wait_for

# Deploying, five rollouts and the settling after each take tens of minutes on two cores.
pytestmark = [pytest.mark.k8s_e2e, pytest.mark.timeout(3600)]

# One post every POST_INTERVAL_SECONDS: a steady stream that the 2-core node keeps up with.
POST_INTERVAL_SECONDS = float(os.environ.get("E2E_POST_INTERVAL_SECONDS", "1.0"))
FRONTEND_INTERVAL_SECONDS = 0.5
# Every row is final within this after the stream stops; past SETTLE_ALONE_SECONDS the retry
# CronJob is run by hand (it would run by itself every 5 minutes).
SETTLE_SECONDS = 600
SETTLE_ALONE_SECONDS = 120
ROLLED = [
    "deployment/receiver",
    "deployment/processor",
    "deployment/recognizer",
    "deployment/frontend",
    "statefulset/nsqd",
]


class Traffic:
    """Posts copies of one photo of Obama to the receiver, and reads the frontend's front page,
    from two threads until stopped; remembers every answer that was not a success."""

    def __init__(self, api: httpx.Client, frontend_url: str, pool: PhotoPool) -> None:
        self.api, self.frontend_url, self.pool = api, frontend_url, pool
        self.accepted: dict[str, int] = {}
        self.failed: list[str] = []
        self.pages = 0
        self._stop = threading.Event()
        self._threads = [
            threading.Thread(target=self._post, daemon=True),
            threading.Thread(target=self._read, daemon=True),
        ]

    def __enter__(self) -> Traffic:
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *_) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(60)

    def _post(self) -> None:
        while not self._stop.wait(POST_INTERVAL_SECONDS):
            try:
                path = self.pool.fresh()
            except AssertionError as exc:
                self.failed.append(str(exc))
                return
            try:
                response = self.api.post("/image/post", json={"path": path})
            except httpx.HTTPError as exc:
                self.failed.append(f"POST {path}: {type(exc).__name__}: {exc}")
                continue
            if response.status_code == 202:
                self.accepted[path] = response.json()["id"]
            else:
                self.failed.append(f"POST {path}: {response.status_code} {response.text[:200]}")

    def _read(self) -> None:
        with httpx.Client(base_url=self.frontend_url, timeout=30, auth=OPERATOR) as client:
            while not self._stop.wait(FRONTEND_INTERVAL_SECONDS):
                try:
                    response = client.get("/")
                except httpx.HTTPError as exc:
                    self.failed.append(f"GET frontend /: {type(exc).__name__}: {exc}")
                    continue
                if response.status_code == 200:
                    self.pages += 1
                else:
                    self.failed.append(f"GET frontend /: {response.status_code}")


def _rows(sql, paths: list[str], obama: str) -> list[dict]:
    if not paths:
        return []
    marks = ", ".join(["%s"] * len(paths))
    return sql(
        "SELECT i.id, i.path, i.status, i.detail, p.name AS person,"
        " (SELECT COUNT(*) FROM faces f WHERE f.image_id = i.id) AS faces,"
        " (SELECT COUNT(*) FROM faces f JOIN person q ON q.id = f.person_id"
        "   WHERE f.image_id = i.id AND q.name = %s) AS obama_faces"
        f" FROM images i LEFT JOIN person p ON p.id = i.person_id WHERE i.path IN ({marks})",
        (obama, *paths),
    )


def settle_and_check(sql, traffic: Traffic, phase: str, obama: str) -> None:
    """Wait until every accepted post's row is PROCESSED, then the invariants."""
    paths = sorted(traffic.accepted)
    started, retries = time.monotonic(), 0
    while True:
        rows = _rows(sql, paths, obama)
        if len(rows) == len(paths) and all(row["status"] == "PROCESSED" for row in rows):
            break
        waited = time.monotonic() - started
        not_done = [row for row in rows if row["status"] != "PROCESSED"]
        assert waited < SETTLE_SECONDS, f"{phase}: not PROCESSED after {SETTLE_SECONDS}s: {not_done[:10]}"
        if waited > SETTLE_ALONE_SECONDS * (retries + 1):
            retries += 1
            run_retry_job(f"kubeface-retry-{phase}-{retries}-{int(time.time())}")
        time.sleep(2)
    by_path = {row["path"]: row for row in rows}
    assert {path: by_path[path]["id"] for path in paths} == traffic.accepted, (
        f"{phase}: a post's row changed id"
    )
    wrong = [row for row in rows if (row["person"], row["faces"], row["obama_faces"]) != (obama, 1, 1)]
    assert not wrong, f"{phase}: rows not recognised as {obama} with one face: {wrong[:10]}"
    assert not traffic.failed, f"{phase}: requests failed: {traffic.failed[:20]}"
    print(  # noqa: T201 - what each phase did, for the report (pytest -rP)
        f"{phase}: {len(paths)} posts accepted, {traffic.pages} frontend pages,"
        f" settled {time.monotonic() - started:.0f}s after the stream stopped, retry jobs run: {retries}"
    )


@pytest.fixture(scope="session")
def recognised(
    api, sql, photos: str, pool: PhotoPool, enrolled: dict[str, str]
) -> dict[str, tuple[str, str | None]]:
    """Real photos posted once every recognizer knows the enrolled people; how each ended."""

    # The recognizers load new enrolments every few seconds: until then a photo of Obama ends
    # PENDING ("no known person matched"), so post fresh copies until one is recognised.
    def obama_known() -> bool:
        return recognised_as(api, sql, pool.fresh()) == ("PROCESSED", enrolled["obama"])

    wait_for(obama_known, 300, "the recognizers to load the enrolments", interval=1)
    return {name: recognised_as(api, sql, f"{photos}/{name}") for name in ("obama3.jpg", "biden.jpg")}


def test_enrolled_people_are_recognised_in_real_photos(recognised, enrolled) -> None:
    assert recognised == {
        "obama3.jpg": ("PROCESSED", enrolled["obama"]),
        "biden.jpg": ("PROCESSED", enrolled["biden"]),
    }


def test_rolling_each_service_under_load_loses_nothing_and_leaves_the_others_alone(
    api, sql, pool, enrolled, recognised, frontend_url
) -> None:
    for workload in ROLLED:
        app = workload.split("/")[1]
        before = {uid: pod for uid, pod in serving_pods().items() if pod.app != app}
        started = time.monotonic()
        with Traffic(api, frontend_url, pool) as traffic:
            time.sleep(5)  # the stream flows before the roll starts
            rollout_restart(workload)
            time.sleep(5)  # and after it ends
        print(f"rollout restart {workload}: {time.monotonic() - started - 10:.0f} s")  # noqa: T201
        after = serving_pods()
        changed = {pod.name: after.get(uid) for uid, pod in before.items() if after.get(uid) != pod}
        assert not changed, f"rolling {workload} replaced or restarted other pods: {changed}"
        settle_and_check(sql, traffic, f"roll-{app}", enrolled["obama"])


def test_scaling_processors_up_and_down_under_load_loses_nothing(
    api, sql, pool, enrolled, recognised, frontend_url
) -> None:
    with Traffic(api, frontend_url, pool) as traffic:
        time.sleep(5)
        scale("deployment/processor", 3)
        time.sleep(10)
        scale("deployment/processor", 1)
        time.sleep(5)
    settle_and_check(sql, traffic, "scale-processor", enrolled["obama"])
