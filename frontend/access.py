"""Who may use the frontend, and how.

- Operator credentials (FRONTEND_USER and FRONTEND_PASSWORD) put every page behind HTTP basic
  auth, and only then may anyone write: the frontend's writes carry API_TOKEN to the receiver,
  so an unauthenticated visitor must never reach them. Without credentials it is read-only.
- Form posts come only from the frontend's own pages (no other site, no `Origin: null`), and no
  page may be framed, so another site can neither post nor click for the operator.
- Request bodies are capped before they are read.
"""

from __future__ import annotations

import base64
import binascii
import hmac
from urllib.parse import urlsplit

from fastapi import FastAPI, Request
from fastapi.responses import PlainTextResponse
from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from kubeface.body_limit import BodySizeLimit
from kubeface.settings import Environment, Settings

# Probes and scrapers need no password.
OPEN_PATHS = ("/healthz", "/readyz", "/metrics")
READ_METHODS = {"GET", "HEAD"}
# The operator forms send a few fields; anything larger is refused before it is read.
MAX_FORM_BYTES = 64 * 1024
NO_FRAMING = {"x-frame-options": "DENY", "content-security-policy": "frame-ancestors 'none'"}
READ_ONLY = (
    "this frontend is read-only: operator actions need a signed-in operator;"
    " set FRONTEND_USER and FRONTEND_PASSWORD to enable them"
)


def operator_credentials(settings: Settings) -> tuple[str, str] | None:
    """(user, password) when the frontend has an operator login; refuses a half-set pair."""
    password = settings.frontend_password.get_secret_value() if settings.frontend_password else None
    user = settings.frontend_user or None
    if bool(user) != bool(password):
        raise ValueError("set both FRONTEND_USER and FRONTEND_PASSWORD, or neither (read-only frontend)")
    return (user, password) if user and password else None


def refuse_unsafe_start(settings: Settings) -> None:
    """In production, a frontend holding API_TOKEN must have an operator login to guard it."""
    credentials = operator_credentials(settings)
    if settings.environment is Environment.PRODUCTION and settings.api_token and credentials is None:
        raise ValueError(
            "the frontend holds API_TOKEN but has no operator login: set FRONTEND_USER and"
            " FRONTEND_PASSWORD, or unset API_TOKEN for a read-only frontend"
        )


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
    """A browser says where a form post came from; refuse one from another site (CSRF).

    `Origin: null` comes from sandboxed frames, data: URLs and some redirects: never our pages."""
    if request.headers.get("sec-fetch-site") == "cross-site":
        return True
    origin = request.headers.get("origin")
    return origin is not None and (origin == "null" or urlsplit(origin).netloc != request.headers.get("host"))


def _refusal(request: Request, credentials: tuple[bytes, bytes] | None) -> PlainTextResponse | None:
    """Why this request may not go on, or None."""
    if request.url.path.startswith(OPEN_PATHS):
        return None
    if credentials and not _basic_ok(request.headers.get("authorization", ""), *credentials):
        return PlainTextResponse(
            "sign in with the operator user name and password (FRONTEND_USER / FRONTEND_PASSWORD)",
            status_code=401,
            headers={"WWW-Authenticate": 'Basic realm="kubeface", charset="UTF-8"'},
        )
    if request.method in READ_METHODS:
        return None
    if credentials is None:
        return PlainTextResponse(READ_ONLY, status_code=403)
    if _cross_site(request):
        return PlainTextResponse("form posts are accepted only from kubeface's own pages", status_code=403)
    return None


class AccessGuard:
    """Refuses what `_refusal` says, and adds the no-framing headers to every answer.

    Plain ASGI: the body cap's exception must pass through it unwrapped (BaseHTTPMiddleware
    would turn it into an exception group)."""

    def __init__(self, app: ASGIApp, credentials: tuple[bytes, bytes] | None) -> None:
        self.app = app
        self.credentials = credentials

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_unframeable(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in NO_FRAMING.items():
                    headers[name] = value
            await send(message)

        refusal = _refusal(Request(scope), self.credentials)
        if refusal is not None:
            await refusal(scope, receive, send_unframeable)
        else:
            await self.app(scope, receive, send_unframeable)


def install_access(app: FastAPI, user: str | None, password: str | None) -> None:
    """Basic auth and read-only mode, same-site posts, no framing, and the body cap."""
    credentials = (user.encode(), password.encode()) if user and password else None
    # Nothing reads a body before the routes, so the cap holds; the guard, added last, runs first
    # and so marks the cap's 413 as unframeable too.
    app.add_middleware(
        BodySizeLimit, max_bytes=MAX_FORM_BYTES, advice="operator forms are much smaller", as_json=False
    )
    app.add_middleware(AccessGuard, credentials=credentials)
