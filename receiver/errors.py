"""Every error the receiver answers, mapped to HTTP in one place. Never a traceback to a client."""

from __future__ import annotations

import logging

import pymysql
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from kubeface.paths import PathRejected
from kubeface.people import PersonExists, PersonNotFound
from kubeface.queue import PublishError
from kubeface.recognition_errors import ImageRejected, RecognizerUnavailable

log = logging.getLogger(__name__)


class ApiError(Exception):
    """An answer with a status code and a message that says what was wrong and what to do."""

    def __init__(self, status_code: int, message: str, **fields: object) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.fields = fields


def _json(status_code: int, message: str, **fields: object) -> JSONResponse:
    return JSONResponse({"error": message, **fields}, status_code=status_code)


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def api_error(_: Request, exc: ApiError) -> JSONResponse:
        return _json(exc.status_code, str(exc), **exc.fields)

    @app.exception_handler(PathRejected)
    async def path_rejected(_: Request, exc: PathRejected) -> JSONResponse:
        return _json(422, str(exc))

    @app.exception_handler(PersonExists)
    async def person_exists(_: Request, exc: PersonExists) -> JSONResponse:
        return _json(
            409,
            f"{exc}; to add photos to them, POST /person/{exc.person_id}/photos (or enrol from an"
            f' image with {{"person_id": {exc.person_id}}}, or `kubeface enroll --add`)',
            person_id=exc.person_id,
        )

    @app.exception_handler(PersonNotFound)
    async def person_not_found(_: Request, exc: PersonNotFound) -> JSONResponse:
        return _json(404, f"{exc}; see the people list, or create the person with POST /person")

    @app.exception_handler(ImageRejected)
    async def image_rejected(_: Request, exc: ImageRejected) -> JSONResponse:
        # The caller's image: their fault, and retrying the same one will not help.
        return _json(422, f"the recognizer cannot use the image: {exc}")

    @app.exception_handler(RecognizerUnavailable)
    async def recognizer_unavailable(_: Request, exc: RecognizerUnavailable) -> JSONResponse:
        log.error("recognizer unavailable: %s", exc)  # the whole cause; the client sees none of it
        return _json(503, "the recognizer is unavailable; try again shortly")

    @app.exception_handler(PublishError)
    async def publish_failed(_: Request, exc: PublishError) -> JSONResponse:
        log.error("publish to nsqd failed: %s", exc)
        return _json(503, "the queue is unavailable; the path is stored, post it again to queue it")

    @app.exception_handler(pymysql.err.OperationalError)
    @app.exception_handler(pymysql.err.InterfaceError)
    async def database_unavailable(_: Request, exc: pymysql.err.Error) -> JSONResponse:
        # MySQL down or restarting: a transient refusal the client can retry, not an internal error.
        log.error("database unavailable: %s", exc)
        return _json(503, "the database is unavailable; try again shortly")

    @app.exception_handler(RequestValidationError)
    async def invalid_request(_: Request, exc: RequestValidationError) -> JSONResponse:
        problems = [
            {
                "field": ".".join(str(part) for part in err.get("loc", ())[1:]) or "body",
                "problem": err.get("msg"),
            }
            for err in exc.errors()
        ]
        return _json(422, "the request body is not valid; see problems", problems=problems)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        return _json(exc.status_code, str(exc.detail))

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.error("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
        return _json(500, "internal error; it has been logged")
