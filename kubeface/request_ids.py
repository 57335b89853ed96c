"""Request ids for the HTTP services: taken from X-Request-Id or made up, echoed back, logged."""

from __future__ import annotations

from fastapi import FastAPI
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from kubeface.logs import REQUEST_ID_HEADER, acceptable_request_id, new_request_id, request_id_var

_HEADER = REQUEST_ID_HEADER.encode()


class RequestIdMiddleware:
    """Binds the request id for the request's logs and echoes it in the response headers.

    Plain ASGI (not BaseHTTPMiddleware): the receiver's hot path pays no extra task per request.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        offered = next((v for k, v in scope["headers"] if k == _HEADER), b"").decode("latin-1")
        request_id = acceptable_request_id(offered) or new_request_id()

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), (_HEADER, request_id.encode())]
            await send(message)

        token = request_id_var.set(request_id)
        try:
            await self.app(scope, receive, send_with_id)
        finally:
            request_id_var.reset(token)


def install_request_ids(app: FastAPI) -> None:
    app.add_middleware(RequestIdMiddleware)
