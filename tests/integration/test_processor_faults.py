"""The processor against bad queue messages and an unreachable recognizer."""

from __future__ import annotations

import json
import shutil
import uuid

import httpx
import pytest

from kubeface.db import Database
from kubeface.images import path_hash
from kubeface.recognizer_breaker import connect_with_breaker
from processor.handler import HandlerConfig, handle_image
from tests.servers import free_port

pytestmark = pytest.mark.mesh


def _insert_queued(mesh, path: str) -> int:
    mesh.sql_bulk("INSERT INTO images (path, path_hash) VALUES (%s, %s)", (path, path_hash(path)))
    return mesh.sql("SELECT id FROM images WHERE path = %s", (path,))[0]["id"]


@pytest.mark.parametrize("request_id", ["bad\nid", "bell\x07", "x" * 300, "é"])
def test_a_message_with_a_malformed_request_id_is_still_recognised(mesh, request_id):
    """A control character in gRPC metadata fails the call client-side: it must not count as a
    recognizer failure (three of them used to end the row FAILED)."""
    path = f"msg-{uuid.uuid4().hex[:8]}.jpg"
    shutil.copy(mesh.image_root / "obama2.jpg", mesh.image_root / path)
    image_id = _insert_queued(mesh, path)
    body = json.dumps({"id": image_id, "request_id": request_id})
    published = httpx.post(
        f"http://{mesh.env['NSQD_HTTP_ADDRESS']}/pub", params={"topic": "images"}, content=body
    )
    assert published.status_code == 200, published.text
    image = mesh.wait_final(image_id)
    assert (image["status"], image["person"], image["attempts"]) == ("PROCESSED", "obama", 1)


def test_a_failed_rows_detail_does_not_show_the_recognizers_address(mesh):
    """gRPC's details name the addresses it tried (pod IPs in a cluster): logs only."""
    port = free_port()  # nothing listens there
    settings = mesh.settings(recognizer_address=f"127.0.0.1:{port}", recognizer_timeout_seconds=5)
    db, recognizer = Database(settings), connect_with_breaker(settings)
    image_id = _insert_queued(mesh, f"unreachable-{uuid.uuid4().hex[:8]}.jpg")  # never published
    try:
        config = HandlerConfig(max_attempts=1, lease_seconds=60, breaker_requeue_delay_seconds=1)
        handle_image(image_id, db, recognizer, config)
    finally:
        recognizer.close()
        db.close()
    [row] = mesh.sql("SELECT status, detail FROM images WHERE id = %s", (image_id,))
    assert row["status"] == "FAILED"
    assert row["detail"].startswith("recognizer error after 1 attempts: recognizer call failed: UNAVAILABLE")
    assert "127.0.0.1" not in row["detail"] and str(port) not in row["detail"]
