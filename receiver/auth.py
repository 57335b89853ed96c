"""Bearer-token check for the receiver's write endpoints (when API_TOKEN is set), and who made
a write, for the audit log."""

from __future__ import annotations

import hmac
from urllib.parse import unquote

from fastapi import Request

from kubeface.audit import ACTOR_MAX, API_TOKEN_ACTOR, OPEN_ACTOR
from kubeface.text import NotStorableText, require_name
from receiver.errors import ApiError

_SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}
# The frontend names the signed-in operator here. Believed only with a valid token: a holder of
# API_TOKEN is trusted to act for operators, and nobody else can set it. Percent-encoded UTF-8
# (urllib.parse.quote(login, safe="")): HTTP headers carry bytes that Starlette decodes as latin-1,
# so a raw "José" would arrive as "JosÃ©".
ACTOR_HEADER = "x-kubeface-actor"


def actor_of(request: Request) -> str:
    """Who the audit log names for this request: the operator the token holder acts for,
    `api-token`, or `anonymous` when the receiver runs without API_TOKEN."""
    actor = getattr(request.state, "actor", None)
    return actor if isinstance(actor, str) else OPEN_ACTOR


class WriteTokenGuard:
    """A dependency: writes need `Authorization: Bearer <API_TOKEN>`; reads stay open unless
    `reads_too` (GET /audit names operators, so reading it needs the token as well)."""

    def __init__(self, token: str | None, *, reads_too: bool = False) -> None:
        self._expected = token.encode() if token else None
        self._reads_too = reads_too

    # async, though it awaits nothing: FastAPI runs a plain `def` dependency in its thread pool,
    # a thread hop per request that halved the receiver's posts per second.
    async def __call__(self, request: Request) -> None:
        if self._expected is None or (request.method in _SAFE_METHODS and not self._reads_too):
            return
        scheme, _, presented = request.headers.get("authorization", "").partition(" ")
        # compare_digest takes the same time wherever the strings differ; never log the token.
        if scheme.lower() != "bearer" or not hmac.compare_digest(presented.strip().encode(), self._expected):
            raise ApiError(401, "a valid bearer token is required: send 'Authorization: Bearer <API_TOKEN>'")
        request.state.actor = _named_operator(request) or API_TOKEN_ACTOR


def _named_operator(request: Request) -> str | None:
    encoded = request.headers.get(ACTOR_HEADER)
    if encoded is None:
        return None
    if not encoded.isascii():
        raise ApiError(422, f"{ACTOR_HEADER} must be percent-encoded UTF-8 (ASCII only on the wire)")
    try:
        named = unquote(encoded, errors="strict")
        require_name(named, ACTOR_HEADER)
    except UnicodeDecodeError as exc:
        raise ApiError(422, f"{ACTOR_HEADER} must be percent-encoded UTF-8; {exc.reason}") from exc
    except NotStorableText as exc:
        raise ApiError(422, str(exc)) from exc
    if not named.strip() or len(named) > ACTOR_MAX:
        raise ApiError(422, f"{ACTOR_HEADER} must be an operator login of 1 to {ACTOR_MAX} characters")
    return named
