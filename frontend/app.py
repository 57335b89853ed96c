"""The frontend's application: server-rendered pages (Jinja2, autoescaped) and operator forms."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI
from fastapi.concurrency import run_in_threadpool
from fastapi.staticfiles import StaticFiles
from prometheus_client import REGISTRY

from frontend import actions, audit_page, clusters, events, pages, person_actions
from frontend.access import install_access, operator_credentials, refuse_unsafe_start
from frontend.errors import install_error_pages
from frontend.state import FrontendState
from kubeface.backlog_metrics import BacklogCollector
from kubeface.http_metrics import install_http_metrics, install_probes
from kubeface.outcome_stream import OutcomeHub, read_outcomes
from kubeface.settings import Settings


def create_app(settings: Settings) -> FastAPI:
    refuse_unsafe_start(settings)
    credentials = operator_credentials(settings)
    outcomes = OutcomeHub(settings.outcome_max_subscribers, settings.outcome_client_buffer)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        state = FrontendState.from_settings(settings)
        await run_in_threadpool(state.db.wait_until_reachable)
        app.state.frontend = state
        outcomes.add_listener(state.counts.on_outcome)
        reader = await read_outcomes(settings, outcomes, "frontend")
        backlog = BacklogCollector(state.db, settings)
        REGISTRY.register(backlog)
        yield
        REGISTRY.unregister(backlog)
        outcomes.close()
        reader.close()
        state.close()

    app = FastAPI(
        title="kubeface frontend", lifespan=lifespan, docs_url=None, redoc_url=None, openapi_url=None
    )
    app.state.outcomes = outcomes  # before start: SIGTERM closes it (frontend/__main__.py)
    app.state.events_heartbeat_seconds = settings.events_heartbeat_seconds
    install_access(app, *(credentials or (None, None)))
    install_error_pages(app)
    install_http_metrics(app)
    app.mount("/static", StaticFiles(directory=Path(__file__).parent / "static"), name="static")
    app.include_router(pages.router)
    app.include_router(actions.router)
    app.include_router(person_actions.router)
    app.include_router(clusters.router)
    app.include_router(events.router)
    app.include_router(audit_page.router)
    install_probes(app, lambda request: request.app.state.frontend.db)

    return app
