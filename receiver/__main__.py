"""Entry point: `kubeface receiver` or `python -m receiver`."""

from __future__ import annotations

import uvicorn

from kubeface.graceful import NotifyingServer
from kubeface.logs import configure_logging
from kubeface.settings import Settings, load_settings
from receiver.app import create_app

# uvicorn stops accepting at SIGTERM and waits this long for requests in flight.
SHUTDOWN_GRACE_SECONDS = 15


def run(settings: Settings) -> None:
    app = create_app(settings)
    config = uvicorn.Config(
        app,
        host=settings.bind_host,
        port=settings.receiver_port,
        log_config=None,  # keep our JSON logging
        access_log=False,  # the request metrics and our own event lines say more, for less
        timeout_graceful_shutdown=SHUTDOWN_GRACE_SECONDS,
        limit_concurrency=1024,
        loop="uvloop",  # both pinned in pyproject: named here so that a missing one fails loudly
        http="httptools",
    )
    # SIGTERM ends waits and event streams first (answered with the current state).
    NotifyingServer(config, on_exit=app.state.outcomes.close).run()


def main() -> None:
    settings = load_settings()
    configure_logging("receiver", settings.log_level)
    run(settings)


if __name__ == "__main__":
    main()
