"""Schemathesis fuzzes the receiver from its own OpenAPI description: never a 5xx."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import API_TOKEN

pytestmark = pytest.mark.mesh

# Bounded: each operation gets this many generated requests, all to the loopback receiver.
EXAMPLES_PER_OPERATION = 30


def test_receiver_never_answers_5xx_to_generated_requests(mesh, artifacts_dir):
    last_person = mesh.sql("SELECT COALESCE(MAX(id), 0) AS id FROM person")[0]["id"]
    last_photo = mesh.sql("SELECT COALESCE(MAX(id), 0) AS id FROM person_images")[0]["id"]
    # schemathesis' pytest plugin does not work with pytest 9 yet; its CLI does the same runs.
    cli = Path(sys.executable).with_name("schemathesis")
    report = artifacts_dir / "schemathesis.txt"
    result = subprocess.run(
        [
            str(cli),
            "run",
            f"{mesh.receiver_url}/openapi.json",
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
    # Its stateful phase enrols people from real photos under made-up names ("0"), and may add
    # real faces to existing people (person_id 1); the rest of the session must not recognise
    # Obama as them, nor anyone as Obama. Recognizers notice deletions within a refresh.
    mesh.sql("DELETE FROM person_images WHERE id > %s", (last_photo,))
    mesh.sql("DELETE FROM person WHERE id > %s", (last_person,))
    time.sleep(float(mesh.env["GALLERY_REFRESH_SECONDS"]) * 3)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
