"""A recognizer outage opens the processor's breaker and turns no record FAILED."""

from __future__ import annotations

import shutil
import time

import pytest

from tests.servers import wait_until

pytestmark = pytest.mark.mesh


def test_recognizer_outage_opens_the_breaker_and_every_record_completes_after(mesh):
    names = [f"outage_{index}.jpg" for index in range(8)]
    for name in names:
        shutil.copy(mesh.image_root / "obama2.jpg", mesh.image_root / name)
    opened = 'processor_breaker_transitions_total{to_state="open"}'
    opened_before = mesh.metric(mesh.processor_metrics_url, opened, default=0.0)
    assert mesh.stop("recognizer") == 0, "the recognizer should exit cleanly on SIGTERM"
    try:
        ids = [mesh.post(name)["id"] for name in names]
        wait_until(
            lambda: mesh.metric(mesh.processor_metrics_url, "processor_breaker_open") == 1, 60, "breaker open"
        )
        assert mesh.metric(mesh.processor_metrics_url, opened) == opened_before + 1
        time.sleep(3)  # several health pings fail meanwhile
        statuses = {
            row["status"]
            for row in mesh.sql(f"SELECT status FROM images WHERE id IN ({','.join(map(str, ids))})")
        }
        assert "FAILED" not in statuses
        assert not statuses & {"PROCESSED", "PENDING"}
    finally:
        mesh.start("recognizer")
    wait_until(
        lambda: mesh.metric(mesh.processor_metrics_url, "processor_breaker_open") == 0, 60, "breaker closed"
    )
    for image_id in ids:
        image = mesh.wait_final(image_id, timeout=120)
        assert (image["status"], image["person"]) == ("PROCESSED", "obama")
