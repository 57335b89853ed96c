"""A cap on request bodies, enforced while they stream in, so no client can exhaust memory."""

from __future__ import annotations

import json

from starlette.types import ASGIApp, Message, Receive, Scope, Send


class BodyTooLarge(Exception):
    pass


class BodySizeLimit:
    """Answers 413 before reading more than `max_bytes` of a body, declared or chunked.

    `advice` ends the refusal (what to send instead); `as_json` answers {"error": ...}, else text.
    `exempt_paths` are routes that stream their bodies and enforce a cap of their own."""

    def __init__(
        self,
        app: ASGIApp,
        max_bytes: int,
        advice: str,
        as_json: bool = True,
        exempt_paths: frozenset[str] = frozenset(),
    ) -> None:
        self.app = app
        self.exempt_paths = exempt_paths
        self.max_bytes = max_bytes
        self.advice = advice
        self.as_json = as_json

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in self.exempt_paths:
            await self.app(scope, receive, send)
            return
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            await self._refuse(send)
            return
        seen = 0
        started = False

        async def counting_receive() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_bytes:
                    raise BodyTooLarge
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counting_receive, tracking_send)
        except BodyTooLarge:
            if not started:
                await self._refuse(send)

    async def _refuse(self, send: Send) -> None:
        message = f"the request body is larger than {self.max_bytes} bytes; {self.advice}"
        body = json.dumps({"error": message}).encode() if self.as_json else message.encode()
        media_type = b"application/json" if self.as_json else b"text/plain; charset=utf-8"
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [
                    (b"content-type", media_type),
                    (b"content-length", str(len(body)).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})
