"""The frontend's application: three read-only pages rendered with Jinja2 (autoescaped)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, JSONResponse
from fastapi.templating import Jinja2Templates
from prometheus_client import make_asgi_app

from frontend.queries import ResultsFilter, people, person_page, results_page, status_counts
from kubeface.db import Database, database_readiness
from kubeface.images import ImageStatus
from kubeface.settings import Settings

TEMPLATES = Jinja2Templates(directory=Path(__file__).parent / "templates")


def _int_or_none(value: str | None) -> int | None:
    return int(value) if value and value.isdigit() else None


def create_app(settings: Settings) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        db = Database(settings)
        await run_in_threadpool(db.wait_until_reachable)
        app.state.db = db
        yield
        db.close()

    app = FastAPI(
        title="kubeface frontend", lifespan=lifespan, docs_url=None, redoc_url=None, openapi_url=None
    )
    app.mount("/metrics", make_asgi_app())
    page_size = settings.frontend_page_size

    @app.get("/", response_class=HTMLResponse)
    def results(request: Request, status: str = "", q: str = "", before: str = "", after: str = ""):
        db: Database = request.app.state.db
        chosen = ImageStatus(status) if status in ImageStatus.__members__ else None
        flt = ResultsFilter(chosen, q.strip() or None, _int_or_none(before), _int_or_none(after))
        page = results_page(db, flt, page_size)
        return TEMPLATES.TemplateResponse(
            request,
            "results.html",
            {"page": page, "counts": status_counts(db), "filter": flt, "statuses": list(ImageStatus), "q": q},
        )

    @app.get("/people", response_class=HTMLResponse)
    def people_list(request: Request):
        return TEMPLATES.TemplateResponse(request, "people.html", {"people": people(request.app.state.db)})

    @app.get("/person/{person_id}", response_class=HTMLResponse)
    def person(request: Request, person_id: int):
        found = person_page(request.app.state.db, person_id, limit=200)
        if found is None:
            return TEMPLATES.TemplateResponse(
                request, "not_found.html", {"what": f"person {person_id}"}, status_code=404
            )
        return TEMPLATES.TemplateResponse(request, "person.html", {"person": found})

    @app.get("/healthz", include_in_schema=False)
    def healthz() -> dict:
        return {"status": "ok"}

    @app.get("/readyz", include_in_schema=False)
    def readyz(request: Request) -> JSONResponse:
        return database_readiness(request.app.state.db)

    return app
