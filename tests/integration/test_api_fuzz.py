"""Schemathesis fuzzes the receiver from its own OpenAPI description: never a 5xx.

The fuzzer renames, merges and erases people and re-queues images, so it runs against a receiver
of its own, on a database of its own: the session's people and images stay as other tests
expect them, whatever it generates.
"""

from __future__ import annotations

import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from tests.conftest import API_TOKEN, service_ports, service_ready
from tests.servers import ServerProcess, kubeface_argv, wait_until

pytestmark = pytest.mark.mesh

# Bounded: each operation gets this many generated requests, all to the loopback receiver.
EXAMPLES_PER_OPERATION = 30


@pytest.fixture
def private_receiver(mesh, empty_database):
    """A receiver on an empty, migrated database, with topics nobody else reads."""
    topic = f"fuzz-{uuid.uuid4().hex[:8]}"
    env = {
        **mesh.env,
        **service_ports(),
        "RECOGNIZER_ADDRESS": mesh.recognizer_address,
        "MYSQL_DATABASE": empty_database,
        "MYSQL_USER": mesh.db_params["user"],
        "MYSQL_PASSWORD": mesh.db_params["password"],
        "NSQ_TOPIC": topic,
        "NSQ_OUTCOMES_TOPIC": f"{topic}-outcomes",
    }
    migrated = subprocess.run(kubeface_argv("migrate"), env=env, capture_output=True, text=True, timeout=120)
    assert migrated.returncode == 0, migrated.stderr[-2000:]
    receiver = ServerProcess("receiver-fuzz", kubeface_argv("receiver"), mesh.log_dir, env).start()
    try:
        wait_until(lambda: service_ready("receiver", env), 60, "receiver-fuzz", receiver)
        yield f"http://127.0.0.1:{env['RECEIVER_PORT']}"
    finally:
        receiver.stop()


def test_receiver_never_answers_5xx_to_generated_requests(private_receiver, artifacts_dir):
    # schemathesis' pytest plugin does not work with pytest 9 yet; its CLI does the same runs.
    cli = Path(sys.executable).with_name("schemathesis")
    report = artifacts_dir / "schemathesis.txt"
    result = subprocess.run(
        [
            str(cli),
            "run",
            f"{private_receiver}/openapi.json",
            "--checks",
            "not_a_server_error",
            "--max-examples",
            str(EXAMPLES_PER_OPERATION),
            "--header",
            f"Authorization: Bearer {API_TOKEN}",
            "--request-timeout",
            "60",
            "--no-color",
            # A stream never ends, so no request to it can finish (test_outcome_stream.py covers it).
            "--exclude-path",
            "/events",
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )
    report.write_text(result.stdout + result.stderr)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
