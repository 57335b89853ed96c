"""`take_snapshot` asks the processor, the recognizer and nsqd at once, each with its own error."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from kubeface.system import Endpoints, take_snapshot

PROCESSOR_METRICS = "processor_breaker_open 1.0\nprocessor_in_flight 2.0\n"
RECOGNIZER_METRICS = "recognizer_known_faces 7.0\n"
NSQD_STATS = {
    "topics": [{"topic_name": "images", "depth": 4, "channels": [{"depth": 1, "deferred_count": 2}]}]
}


class _Sources(BaseHTTPRequestHandler):
    """Answers as the three sources; with `all_at_once`, only once all three have asked."""

    all_at_once: threading.Barrier | None = None
    broken: frozenset[str] = frozenset()

    def do_GET(self) -> None:  # noqa: N802 (http.server's name)
        path = self.path.split("?")[0]
        if self.all_at_once is not None:
            try:
                self.all_at_once.wait()
            except threading.BrokenBarrierError:
                self.send_error(503, "the other sources were not asked meanwhile")
                return
        if path in self.broken:
            self.send_error(500, "broken on purpose")
            return
        body = {
            "/processor": PROCESSOR_METRICS,
            "/recognizer": RECOGNIZER_METRICS,
            "/stats": json.dumps(NSQD_STATS),
        }[path].encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


def _serve(handler: type[BaseHTTPRequestHandler]) -> Iterator[Endpoints]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        yield Endpoints(f"{base}/processor", f"{base}/recognizer", f"{base}/stats", "images")
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def answering_only_all_at_once(monkeypatch) -> Iterator[Endpoints]:
    # Asked one after another, the first GET waits for the others until the barrier gives up
    # (503); the scrape timeout is raised above that wait so that a slow machine cannot fail it.
    monkeypatch.setattr("kubeface.system.SCRAPE_TIMEOUT_SECONDS", 10.0)
    handler = type("AllAtOnce", (_Sources,), {"all_at_once": threading.Barrier(3, timeout=3)})
    yield from _serve(handler)


@pytest.fixture
def recognizer_broken() -> Iterator[Endpoints]:
    yield from _serve(type("RecognizerBroken", (_Sources,), {"broken": frozenset({"/recognizer"})}))


def test_the_three_sources_are_asked_at_once(answering_only_all_at_once):
    snap = take_snapshot(answering_only_all_at_once)
    assert snap.problems == []
    assert (snap.breaker, snap.in_flight, snap.known_faces, snap.queue_depth) == ("open", 2, 7, 7)


def test_each_source_reports_its_own_error(recognizer_broken):
    endpoints = Endpoints(
        "http://127.0.0.1:1/metrics",  # nothing listens on port 1
        recognizer_broken.recognizer_metrics,
        recognizer_broken.nsqd_stats,
        "images",
    )
    snap = take_snapshot(endpoints)
    assert len(snap.problems) == 2
    assert snap.problems[0].startswith("processor metrics at http://127.0.0.1:1/metrics unreadable:")
    assert snap.problems[1].startswith(
        f"recognizer metrics at {endpoints.recognizer_metrics} unreadable: HTTP 500"
    )
    assert (snap.breaker, snap.known_faces, snap.queue_depth) == ("unknown", None, 7)
