"""Liveness that notices a wedged recognition, and the HTTP side that reports it (/livez, /metrics).

A process can answer HTTP while every recognition thread is stuck (a FIFO once blocked them in
open()): probing /metrics then passed and nothing restarted the pod. The watchdog notes when
each image's recognition starts and ends; /livez fails once one has run longer than
RECOGNIZER_WEDGED_SECONDS, so the kubelet restarts the pod.
"""

from __future__ import annotations

import itertools
import json
import logging
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, Gauge, generate_latest

log = logging.getLogger(__name__)

OLDEST_RECOGNITION = Gauge(
    "recognizer_oldest_recognition_seconds", "How long the oldest unfinished recognition has run"
)


class Watchdog:
    """Tracks unfinished recognitions; `wedged()` once the oldest has run past `bound_seconds`."""

    def __init__(self, bound_seconds: float, clock: Callable[[], float] = time.monotonic) -> None:
        self._bound = bound_seconds
        self._clock = clock
        self._started: dict[int, float] = {}
        self._tokens = itertools.count()
        self._lock = threading.Lock()
        OLDEST_RECOGNITION.set_function(self.oldest_seconds)

    @contextmanager
    def track(self) -> Iterator[None]:
        """Around one image's recognition, from reading the file to the last face encoded."""
        token = next(self._tokens)
        with self._lock:
            self._started[token] = self._clock()
        try:
            yield
        finally:
            with self._lock:
                del self._started[token]

    def oldest_seconds(self) -> float:
        """How long the oldest unfinished recognition has run; 0 when none runs."""
        with self._lock:
            oldest = min(self._started.values(), default=None)
        return 0.0 if oldest is None else self._clock() - oldest

    def wedged(self) -> bool:
        return self.oldest_seconds() > self._bound


class _Handler(BaseHTTPRequestHandler):
    watchdog: Watchdog  # set on the subclass `serve_http` makes

    def do_GET(self) -> None:  # noqa: N802 - the name http.server calls
        path = urlsplit(self.path).path
        if path == "/livez":
            oldest = self.watchdog.oldest_seconds()
            if self.watchdog.wedged():
                log.error("liveness failing: a recognition is wedged", extra={"seconds": round(oldest, 1)})
                self._send(
                    503, "application/json", json.dumps({"status": "wedged", "oldest_seconds": oldest})
                )
            else:
                self._send(200, "application/json", json.dumps({"status": "ok", "oldest_seconds": oldest}))
        elif path in ("/metrics", "/"):
            self._send(200, CONTENT_TYPE_LATEST, generate_latest(REGISTRY))
        else:
            self._send(404, "application/json", json.dumps({"error": "no such page; try /metrics or /livez"}))

    def _send(self, code: int, content_type: str, body: str | bytes) -> None:
        data = body.encode() if isinstance(body, str) else body
        self.send_response(code)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - http.server's name
        pass  # probes and scrapes every few seconds; the access log would drown the service's own


def serve_http(host: str, port: int, watchdog: Watchdog) -> ThreadingHTTPServer:
    """/metrics and /livez on the metrics port, in a daemon thread."""
    handler = type("Handler", (_Handler,), {"watchdog": watchdog})
    server = ThreadingHTTPServer((host, port), handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, name="metrics-http", daemon=True).start()
    return server
