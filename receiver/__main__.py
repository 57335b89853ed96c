"""Entry point: `kubeface receiver` or `python -m receiver`."""

from __future__ import annotations

import functools
import sys

import uvicorn

from kubeface.db import refuse_bad_tls_now
from kubeface.graceful import NotifyingServer
from kubeface.logs import configure_logging
from kubeface.process_group import run_process_group, shared_listening_socket
from kubeface.settings import Settings, load_settings
from receiver.app import create_app

# uvicorn stops accepting at SIGTERM and waits this long for requests in flight.
SHUTDOWN_GRACE_SECONDS = 15


def run(settings: Settings, *, reuse_port: bool = False) -> None:
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
    server = NotifyingServer(config, on_exit=app.state.outcomes.close)
    if reuse_port:
        server.run(sockets=[shared_listening_socket(settings.bind_host, settings.receiver_port)])
    else:
        server.run()


def _child(settings: Settings, index: int) -> None:
    configure_logging("receiver", settings.log_level)
    run(settings, reuse_port=True)


def main() -> None:
    settings = load_settings()
    configure_logging("receiver", settings.log_level)
    refuse_bad_tls_now(settings)
    processes = settings.resolved_receiver_processes
    if processes > 1:
        # One process answers about 1,000 posts/s, its event loop busy with Python per request.
        child = functools.partial(_child, settings)
        code = run_process_group(child, processes, "receiver", SHUTDOWN_GRACE_SECONDS, shared_metrics=True)
        sys.exit(code)
    run(settings)


if __name__ == "__main__":
    main()
