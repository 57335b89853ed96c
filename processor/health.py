"""The processor's HTTP side: /healthz, /readyz and /metrics, served on its own tornado loop."""

from __future__ import annotations

import tornado.web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest


class Readiness:
    """Ready while consuming; false from the moment SIGTERM arrives."""

    def __init__(self) -> None:
        self.ready = False


class _Healthz(tornado.web.RequestHandler):
    def get(self) -> None:
        self.write({"status": "ok"})


class _Readyz(tornado.web.RequestHandler):
    def initialize(self, readiness: Readiness) -> None:
        self.readiness = readiness

    def get(self) -> None:
        if not self.readiness.ready:
            self.set_status(503)
            self.write({"status": "not ready"})
            return
        self.write({"status": "ready"})


class _Metrics(tornado.web.RequestHandler):
    def get(self) -> None:
        self.set_header("Content-Type", CONTENT_TYPE_LATEST)
        self.write(generate_latest())


def health_app(readiness: Readiness) -> tornado.web.Application:
    return tornado.web.Application(
        [
            (r"/healthz", _Healthz),
            (r"/readyz", _Readyz, {"readiness": readiness}),
            (r"/metrics", _Metrics),
        ]
    )
