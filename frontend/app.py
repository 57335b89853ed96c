"""The frontend's application: server-rendered pages (Jinja2, autoescaped) and operator forms."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI
from fastapi.concurrency import run_in_threadpool
from fastapi.staticfiles import StaticFiles
from prometheus_client import REGISTRY

from frontend import actions, pages
from frontend.access import install_access, operator_credentials, refuse_unsafe_start
from frontend.errors import install_error_pages
from frontend.state import FrontendState
from kubeface.backlog_metrics import BacklogCollector
from kubeface.http_metrics import install_http_metrics, install_probes
from kubeface.settings import Settings


def create_app(settings: Settings) -> FastAPI:
    refuse_unsafe_start(settings)
    credentials = operator_credentials(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        state = FrontendState.from_settings(settings)
        await run_in_threadpool(state.db.wait_until_reachable)
        app.state.frontend = state
        backlog = BacklogCollector(state.db, settings)
        REGISTRY.register(backlog)
        yield
        REGISTRY.unregister(backlog)
        state.close()

    app = FastAPI(
        title="kubeface frontend", lifespan=lifespan, docs_url=None, redoc_url=None, openapi_url=None
    )
    install_access(app, *(credentials or (None, None)))
    install_error_pages(app)
    install_http_metrics(app)
    app.mount("/static", StaticFiles(directory=Path(__file__).parent / "static"), name="static")
    app.include_router(pages.router)
    app.include_router(actions.router)
    install_probes(app, lambda request: request.app.state.frontend.db)

    return app
