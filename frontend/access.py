"""Who may use the frontend: optional HTTP basic auth, and form posts only from its own pages."""

from __future__ import annotations

import base64
import binascii
import hmac
from urllib.parse import urlsplit

from fastapi import FastAPI, Request
from fastapi.responses import PlainTextResponse

# Probes and scrapers need no password.
OPEN_PATHS = ("/healthz", "/readyz", "/metrics")


def _basic_ok(header: str, user: bytes, password: bytes) -> bool:
    scheme, _, encoded = header.partition(" ")
    if scheme.lower() != "basic":
        return False
    try:
        given_user, _, given_password = base64.b64decode(encoded.strip(), validate=True).partition(b":")
    except (binascii.Error, ValueError):
        return False
    # Compare both, always: the time taken says nothing about which part was wrong.
    user_ok = hmac.compare_digest(given_user, user)
    return hmac.compare_digest(given_password, password) and user_ok


def _cross_site(request: Request) -> bool:
    """A browser says where a form post came from; refuse one from another site (CSRF)."""
    if request.headers.get("sec-fetch-site") == "cross-site":
        return True
    origin = request.headers.get("origin")
    return bool(origin) and origin != "null" and urlsplit(origin).netloc != request.headers.get("host")


def install_access(app: FastAPI, user: str | None, password: str | None) -> None:
    credentials = (user.encode(), password.encode()) if user and password else None

    @app.middleware("http")
    async def guard(request: Request, call_next):
        if request.url.path.startswith(OPEN_PATHS):
            return await call_next(request)
        if credentials and not _basic_ok(request.headers.get("authorization", ""), *credentials):
            return PlainTextResponse(
                "sign in with the operator user name and password (FRONTEND_USER / FRONTEND_PASSWORD)",
                status_code=401,
                headers={"WWW-Authenticate": 'Basic realm="kubeface", charset="UTF-8"'},
            )
        if request.method == "POST" and _cross_site(request):
            return PlainTextResponse(
                "form posts are accepted only from kubeface's own pages", status_code=403
            )
        return await call_next(request)
