"""The frontend's answers to malformed requests: an HTML page with a 400 that names what was wrong."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse

from frontend.pages import render
from frontend.params import BadParameter


def _problem(error: dict) -> str:
    """FastAPI's validation error as one line: where, then what."""
    where = [str(part) for part in error.get("loc", ())]
    name = f"{'.'.join(where[1:])} (in the {where[0]})" if len(where) > 1 else "the request"
    given = error.get("input")
    shown = f"; got {str(given)[:40]!r}" if isinstance(given, str | int) else ""
    return f"{name}: {error.get('msg', 'is not valid')}{shown}"


def install_error_pages(app: FastAPI) -> None:
    @app.exception_handler(BadParameter)
    async def bad_parameter(request: Request, exc: BadParameter) -> HTMLResponse:
        return render(request, "bad_request.html", {"problems": [str(exc)]}, status_code=400)

    @app.exception_handler(RequestValidationError)
    async def invalid_request(request: Request, exc: RequestValidationError) -> HTMLResponse:
        problems = [_problem(error) for error in exc.errors()]
        return render(request, "bad_request.html", {"problems": problems}, status_code=400)
