"""Recognizer processes sharing a port, all of them used by one processor's client."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest

from kubeface.recognizer_breaker import connect_with_breaker
from tests.photos import SESSION_FACE, unique_name
from tests.servers import free_port, wait_until

pytestmark = pytest.mark.mesh

PROCESSES = 2
# Each connection reaches a process the kernel picks at random: with 32, the chance that one of
# two processes gets none is 2**-31.
CONNECTIONS = 32


def test_a_burst_of_identifies_is_served_by_every_recognizer_process(mesh):
    """One gRPC channel is one connection, and SO_REUSEPORT spreads connections, not calls: the
    processor's calls all reached one process and the other cores idled."""
    port = free_port()
    instance = unique_name("recognizer-procs")
    proc = mesh.start(
        "recognizer",
        instance=instance,
        env={
            "RECOGNIZER_PORT": str(port),
            "RECOGNIZER_ADDRESS": f"127.0.0.1:{port}",
            "RECOGNIZER_METRICS_PORT": str(free_port()),
            "RECOGNIZER_PROCESSES": str(PROCESSES),
        },
    )
    try:
        # The first process answers health; the others listen only once they serve.
        wait_until(
            lambda: proc.log_path.read_text().count("recognizer serving") == PROCESSES, 120, instance, proc
        )
        settings = mesh.settings(recognizer_address=f"127.0.0.1:{port}", recognizer_connections=CONNECTIONS)
        client = connect_with_breaker(settings)
        try:
            person, photo = SESSION_FACE
            with ThreadPoolExecutor(4) as pool:
                replies = list(pool.map(lambda _: client.identify(photo), range(16)))
            served = client.connections.calls_by_server()
        finally:
            client.close()
    finally:
        mesh.stop(instance)
    assert {r.faces[0].named.person_name for r in replies} == {person}
    assert len(served) == PROCESSES, served
    assert all(count >= 2 for count in served.values()), served
