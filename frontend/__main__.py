"""Entry point: `kubeface frontend` or `python -m frontend`."""

from __future__ import annotations

import logging

import uvicorn

from frontend.app import create_app
from kubeface.db import refuse_bad_tls_now
from kubeface.graceful import NotifyingServer
from kubeface.logs import configure_logging
from kubeface.settings import Settings, load_settings

log = logging.getLogger(__name__)

SHUTDOWN_GRACE_SECONDS = 10


def run(settings: Settings) -> None:
    try:
        app = create_app(settings)
    except ValueError as exc:  # an unsafe configuration: say what to set, without a traceback
        log.critical("the frontend refuses to start: %s", exc)
        raise SystemExit(1) from exc
    config = uvicorn.Config(
        app,
        host=settings.bind_host,
        port=settings.frontend_port,
        log_config=None,
        timeout_graceful_shutdown=SHUTDOWN_GRACE_SECONDS,
    )
    # SIGTERM ends the open event streams first, so the shutdown does not wait on them.
    NotifyingServer(config, on_exit=app.state.outcomes.close).run()


def main() -> None:
    settings = load_settings()
    configure_logging("frontend", settings.log_level)
    refuse_bad_tls_now(settings)
    run(settings)


if __name__ == "__main__":
    main()
