"""Entry point: `kubeface frontend` or `python -m frontend`."""

from __future__ import annotations

import uvicorn

from frontend.app import create_app
from kubeface.logs import configure_logging
from kubeface.settings import Settings, load_settings

SHUTDOWN_GRACE_SECONDS = 10


def run(settings: Settings) -> None:
    uvicorn.run(
        create_app(settings),
        host=settings.bind_host,
        port=settings.frontend_port,
        log_config=None,
        timeout_graceful_shutdown=SHUTDOWN_GRACE_SECONDS,
    )


def main() -> None:
    settings = load_settings()
    configure_logging("frontend", settings.log_level)
    run(settings)


if __name__ == "__main__":
    main()
