"""What both HTTP services share: request metrics by route and code, /metrics, and the probes."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

import pymysql
from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, Counter, Histogram, generate_latest

from kubeface.db import Database

log = logging.getLogger(__name__)

HTTP_REQUESTS = Counter("http_requests_total", "HTTP requests handled", ["route", "method", "code"])
HTTP_SECONDS = Histogram("http_request_duration_seconds", "HTTP request latency", ["route", "method"])


def install_http_metrics(app: FastAPI) -> None:
    """Count and time every request, and serve /metrics (exactly there: no redirect to /metrics/)."""

    @app.get("/metrics", include_in_schema=False)
    def metrics() -> Response:
        return Response(generate_latest(REGISTRY), media_type=CONTENT_TYPE_LATEST)

    @app.middleware("http")
    async def observe(request: Request, call_next) -> Response:
        started = time.perf_counter()
        code = 500
        try:
            response = await call_next(request)
            code = response.status_code
            return response
        finally:
            # The route template ("/image/{image_id}"), never the raw path, keeps the labels bounded.
            route = getattr(request.scope.get("route"), "path", "unmatched")
            HTTP_REQUESTS.labels(route, request.method, str(code)).inc()
            HTTP_SECONDS.labels(route, request.method).observe(time.perf_counter() - started)


def install_probes(app: FastAPI, database: Callable[[Request], Database]) -> None:
    """/healthz: the process answers (liveness). /readyz: and it reaches MySQL (readiness)."""

    @app.get("/healthz", include_in_schema=False)
    def healthz() -> dict:
        return {"status": "ok"}

    @app.get("/readyz", include_in_schema=False)
    def readyz(request: Request) -> JSONResponse:
        try:
            with database(request).transaction() as cur:
                cur.execute("SELECT 1")
        except pymysql.err.Error as exc:
            log.warning("not ready: database unreachable: %s", exc)
            return JSONResponse({"status": "database unreachable"}, status_code=503)
        return JSONResponse({"status": "ready"})
