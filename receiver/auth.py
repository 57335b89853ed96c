"""Bearer-token check for the receiver's write endpoints (when API_TOKEN is set)."""

from __future__ import annotations

import hmac

from fastapi import Request

from receiver.errors import ApiError

_SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}


class WriteTokenGuard:
    """A dependency: writes need `Authorization: Bearer <API_TOKEN>`; reads stay open."""

    def __init__(self, token: str | None) -> None:
        self._expected = token.encode() if token else None

    # async, though it awaits nothing: FastAPI runs a plain `def` dependency in its thread pool,
    # a thread hop per request that halved the receiver's posts per second.
    async def __call__(self, request: Request) -> None:
        if self._expected is None or request.method in _SAFE_METHODS:
            return
        scheme, _, presented = request.headers.get("authorization", "").partition(" ")
        # compare_digest takes the same time wherever the strings differ; never log the token.
        if scheme.lower() != "bearer" or not hmac.compare_digest(presented.strip().encode(), self._expected):
            raise ApiError(401, "a valid bearer token is required: send 'Authorization: Bearer <API_TOKEN>'")
