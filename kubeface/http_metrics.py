"""What both HTTP services share: request metrics by route and code, /metrics, and the probes."""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable

import pymysql
from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
    multiprocess,
)
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from kubeface.db import Database
from kubeface.db_tls import DatabaseTlsError
from kubeface.process_group import METRICS_DIR_ENV

log = logging.getLogger(__name__)

HTTP_REQUESTS = Counter("http_requests_total", "HTTP requests handled", ["route", "method", "code"])
HTTP_SECONDS = Histogram("http_request_duration_seconds", "HTTP request latency", ["route", "method"])


def install_http_metrics(app: FastAPI) -> None:
    """Count and time every request, and serve /metrics (exactly there: no redirect to /metrics/)."""

    @app.get("/metrics", include_in_schema=False)
    def metrics() -> Response:
        return Response(generate_latest(_registry()), media_type=CONTENT_TYPE_LATEST)

    app.add_middleware(RequestMetricsMiddleware)


def _registry() -> CollectorRegistry:
    """This process's metrics, or every process's added up when several share the port
    (kubeface/process_group.py sets prometheus_client's multiprocess directory for them)."""
    if METRICS_DIR_ENV not in os.environ:
        return REGISTRY
    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
    return registry


class RequestMetricsMiddleware:
    """Counts and times requests by route template; plain ASGI, so it costs no task per request."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        code = 500

        async def send_noting_code(message: Message) -> None:
            nonlocal code
            if message["type"] == "http.response.start":
                code = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_noting_code)
        finally:
            # The route template ("/image/{image_id}"), never the raw path, keeps the labels bounded;
            # the router sets it in the shared scope.
            route = getattr(scope.get("route"), "path", "unmatched")
            HTTP_REQUESTS.labels(route, scope["method"], str(code)).inc()
            HTTP_SECONDS.labels(route, scope["method"]).observe(time.perf_counter() - started)


def install_probes(app: FastAPI, database: Callable[[Request], Database]) -> None:
    """/healthz: the process answers (liveness). /readyz: and it reaches MySQL (readiness)."""

    @app.get("/healthz", include_in_schema=False)
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/readyz", include_in_schema=False)
    def readyz(request: Request) -> JSONResponse:
        try:
            with database(request).transaction() as cur:
                cur.execute("SELECT 1")
        except DatabaseTlsError as exc:
            # A setting to change (kubeface/db_tls.py): say which, for `kubectl describe`.
            log.warning("not ready: %s", exc)
            return JSONResponse({"status": "database TLS refused", "cause": str(exc)}, status_code=503)
        except pymysql.err.Error as exc:
            log.warning("not ready: database unreachable: %s", exc)
            return JSONResponse({"status": "database unreachable"}, status_code=503)
        return JSONResponse({"status": "ready"})
