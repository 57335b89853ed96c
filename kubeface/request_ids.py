"""Request ids for the HTTP services: taken from X-Request-Id or made up, echoed back, logged."""

from __future__ import annotations

import re

from fastapi import FastAPI, Request, Response

from kubeface.logs import REQUEST_ID_HEADER, new_request_id, request_id_var

# A client's id is kept only when it is short and plain, so it cannot forge log lines.
_ACCEPTABLE = re.compile(r"[A-Za-z0-9._-]{1,64}")


def install_request_ids(app: FastAPI) -> None:
    @app.middleware("http")
    async def bind_request_id(request: Request, call_next) -> Response:
        offered = request.headers.get(REQUEST_ID_HEADER, "")
        request_id = offered if _ACCEPTABLE.fullmatch(offered) else new_request_id()
        token = request_id_var.set(request_id)
        try:
            response = await call_next(request)
        finally:
            request_id_var.reset(token)
        response.headers[REQUEST_ID_HEADER] = request_id
        return response
