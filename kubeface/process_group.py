"""Several server processes of one service sharing its port (SO_REUSEPORT), started and stopped
together: how one service uses several cores on one machine (`make run`)."""

from __future__ import annotations

import logging
import multiprocessing
import os
import shutil
import signal
import socket
import tempfile
import threading
from collections.abc import Callable

log = logging.getLogger(__name__)

# prometheus_client's own switch: set before the children import it, each writes its samples
# there and /metrics adds up every process's (kubeface/http_metrics.py).
METRICS_DIR_ENV = "PROMETHEUS_MULTIPROC_DIR"


def run_process_group(
    target: Callable[[int], None],
    count: int,
    name: str,
    grace_seconds: float,
    *,
    shared_metrics: bool = False,
) -> int:
    """Run `target(index)` in `count` spawned processes until SIGTERM or SIGINT; the exit status.

    If one dies, the others are stopped too and the status is its own (else 1): the whole
    service restarts, never half of it. With `shared_metrics`, the processes' Prometheus metrics are added up.
    """
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    metrics_dir = tempfile.mkdtemp(prefix=f"kubeface-{name}-metrics-") if shared_metrics else None
    if metrics_dir is not None:
        os.environ[METRICS_DIR_ENV] = metrics_dir  # the spawned children inherit it
    spawn = multiprocessing.get_context("spawn")  # grpc and event loops do not survive fork()
    children = [spawn.Process(target=target, args=(index,), name=f"{name}-{index}") for index in range(count)]
    for child in children:
        child.start()
    log.info("%s processes started", name, extra={"pids": [c.pid for c in children]})
    try:
        while not stop.wait(0.5) and all(child.is_alive() for child in children):
            pass
        for child in children:
            if child.is_alive():
                child.terminate()  # SIGTERM: each drains on its own
        for child in children:
            child.join(grace_seconds + 10)
    finally:
        if metrics_dir is not None:
            shutil.rmtree(metrics_dir, ignore_errors=True)
    failed = {c.name: c.exitcode for c in children if c.exitcode not in (0, -signal.SIGTERM)}
    if failed or not stop.is_set():
        log.error("a %s process exited; stopped all", name, extra={"failed": failed})
        # The first failed child's own status where it chose one (e.g. 70, fault injection).
        return next((code for code in failed.values() if code is not None and code > 0), 1)
    return 0


def shared_listening_socket(host: str, port: int, backlog: int = 2048) -> socket.socket:
    """A listening TCP socket on host:port that other processes may bind too (SO_REUSEPORT);
    the kernel hands each new connection to one of them."""
    family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
    sock = socket.socket(family, kind, proto)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind(address)
    sock.listen(backlog)
    return sock
