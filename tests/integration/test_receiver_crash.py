"""The receiver dies between its database commit and its NSQ publish: nothing is lost."""

from __future__ import annotations

import json
import shutil

import httpx
import pytest

from tests.servers import free_port, wait_until

pytestmark = pytest.mark.mesh


def test_a_post_committed_but_never_published_still_completes(mesh):
    for name in ("crash_client_retry.jpg", "crash_retry_job.jpg"):
        shutil.copy(mesh.image_root / "obama2.jpg", mesh.image_root / name)
    port = free_port()
    doomed = {"RECEIVER_PORT": str(port), "FAULT_CRASH_AFTER_COMMIT": "true"}
    url = f"http://127.0.0.1:{port}/image/post"
    headers = {"authorization": f"Bearer {mesh.env['API_TOKEN']}"}
    for name in ("crash_client_retry.jpg", "crash_retry_job.jpg"):
        receiver = mesh.start("receiver", instance="receiver-doomed", env=doomed)
        with pytest.raises(httpx.HTTPError):  # the connection drops: the client never saw a 202
            httpx.post(url, json={"path": name}, headers=headers, timeout=30)
        wait_until(lambda proc=receiver: not proc.running, 30, "the doomed receiver to exit")
        assert receiver.popen.returncode == 70
    del mesh.services["receiver-doomed"]
    rows = {
        row["path"]: row
        for row in mesh.sql(
            "SELECT id, path, status FROM images"
            " WHERE path IN ('crash_client_retry.jpg', 'crash_retry_job.jpg')"
        )
    }
    assert {row["status"] for row in rows.values()} == {"QUEUED"}, "both rows were committed, unpublished"

    # A client that retries its post gets the existing row, whose id is published again.
    again = mesh.post("crash_client_retry.jpg")
    assert again["id"] == rows["crash_client_retry.jpg"]["id"] and again["duplicate"] is True
    assert mesh.wait_final(again["id"])["status"] == "PROCESSED"

    # One nobody retries is found by the retry job once its lease has passed.
    lost = rows["crash_retry_job.jpg"]["id"]
    result = mesh.run("retry", "--json", env={"RETRY_LEASE_SECONDS": "0.5"})
    assert result.returncode == 0, result.stderr
    assert lost in json.loads(result.stdout.strip().splitlines()[-1])["by_reason"]["stale_queued"]
    assert mesh.wait_final(lost)["status"] == "PROCESSED"
    assert len(mesh.sql("SELECT id FROM images WHERE path = 'crash_retry_job.jpg'")) == 1
