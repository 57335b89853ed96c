"""The receiver's FastAPI application: state, routes, error handlers, health and metrics."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import Depends, FastAPI
from fastapi.concurrency import run_in_threadpool

from kubeface.body_limit import BodySizeLimit
from kubeface.http_metrics import install_http_metrics, install_probes
from kubeface.outcome_stream import OutcomeHub, read_outcomes
from kubeface.queue import PublishError
from kubeface.request_ids import install_request_ids
from kubeface.settings import Settings
from receiver import (
    admin_routes,
    audit_routes,
    cluster_routes,
    outcome_routes,
    person_admin_routes,
    upload_routes,
)
from receiver.auth import WriteTokenGuard
from receiver.errors import install_error_handlers
from receiver.people_routes import router as people_router
from receiver.routes import router
from receiver.state import ReceiverState

log = logging.getLogger(__name__)


def create_app(settings: Settings) -> FastAPI:
    outcomes = OutcomeHub(settings.outcome_max_subscribers, settings.outcome_client_buffer)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        state = ReceiverState.from_settings(settings)
        await run_in_threadpool(state.db.wait_until_reachable)
        try:
            # Consumers find the topic through nsqlookupd only once it exists on an nsqd.
            await run_in_threadpool(state.publisher.ensure_topic)
        except PublishError as exc:
            log.warning("could not create the topic yet; the first post will: %s", exc)
        for leftover in await run_in_threadpool(state.uploads.remove_abandoned):
            log.info("abandoned upload removed", extra={"file": leftover})
        app.state.receiver = state
        reader = await read_outcomes(settings, outcomes, "receiver")
        yield
        outcomes.close()
        reader.close()
        state.close()

    app = FastAPI(title="kubeface receiver", version="1.0", lifespan=lifespan)
    app.state.outcomes = outcomes  # before start: SIGTERM closes it (receiver/__main__.py)
    app.state.events_heartbeat_seconds = settings.events_heartbeat_seconds
    install_error_handlers(app)
    install_http_metrics(app)
    install_request_ids(app)
    app.add_middleware(
        BodySizeLimit,
        max_bytes=settings.receiver_max_body_bytes,
        advice="send fewer paths per batch",
        exempt_paths=frozenset({upload_routes.UPLOAD_PATH}),  # capped at UPLOAD_MAX_BYTES as it streams
    )
    token = settings.api_token.get_secret_value() if settings.api_token else None
    writes_need_token = Depends(WriteTokenGuard(token))
    app.include_router(router, dependencies=[writes_need_token])
    app.include_router(outcome_routes.router, dependencies=[writes_need_token])
    app.include_router(people_router, dependencies=[writes_need_token])
    app.include_router(admin_routes.router, dependencies=[writes_need_token])
    app.include_router(person_admin_routes.router, dependencies=[writes_need_token])
    app.include_router(upload_routes.router, dependencies=[writes_need_token])
    app.include_router(cluster_routes.router, dependencies=[writes_need_token])
    # The audit log names operators: reading it needs the token too (open only without API_TOKEN).
    app.include_router(audit_routes.router, dependencies=[Depends(WriteTokenGuard(token, reads_too=True))])
    install_probes(app, lambda request: request.app.state.receiver.db)

    return app
