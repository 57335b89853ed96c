"""The retry job, as cron runs it, against the real mesh."""

from __future__ import annotations

import json
import shutil

import pytest

pytestmark = pytest.mark.mesh


def _retry(mesh, *args: str, **env: str) -> dict:
    """One pass of `kubeface retry`; backoff 0 unless the test sets it."""
    result = mesh.run("retry", "--json", *args, env={"RETRY_BACKOFF_SECONDS": "0", **env})
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_failed_record_completes_once_its_file_appears(mesh):
    image = mesh.wait_final(mesh.post("late/arrival.jpg")["id"])
    assert image["status"] == "FAILED"
    (mesh.image_root / "late").mkdir()
    shutil.copy(mesh.image_root / "obama2.jpg", mesh.image_root / "late" / "arrival.jpg")

    dry = _retry(mesh, "--dry-run")
    assert image["id"] in dry["by_reason"]["failed"]
    assert mesh.sql("SELECT status FROM images WHERE id = %s", (image["id"],))[0]["status"] == "FAILED"

    report = _retry(mesh)
    assert image["id"] in report["by_reason"]["failed"]
    done = mesh.wait_final(image["id"])
    assert (done["status"], done["person"], done["attempts"]) == ("PROCESSED", "obama", 2)


def test_failed_record_waits_for_its_backoff(mesh):
    image = mesh.wait_final(mesh.post("late/never.jpg")["id"])
    assert image["status"] == "FAILED"
    assert image["id"] not in _retry(mesh, "--dry-run", RETRY_BACKOFF_SECONDS="3600")["by_reason"]["failed"]
    assert image["id"] in _retry(mesh, "--dry-run", RETRY_BACKOFF_SECONDS="0")["by_reason"]["failed"]


def test_failed_record_at_the_attempt_limit_is_left_alone(mesh):
    image = mesh.wait_final(mesh.post("late/given_up.jpg")["id"])
    assert image["attempts"] == 1
    assert image["id"] not in _retry(mesh, "--dry-run", RETRY_MAX_ATTEMPTS="1")["by_reason"]["failed"]
    assert image["id"] in _retry(mesh, "--dry-run", RETRY_MAX_ATTEMPTS="2")["by_reason"]["failed"]


def test_stale_queued_and_processing_records_complete(mesh):
    # Rows whose message was lost: one never published, one claimed by a processor that died.
    for name in ("stale_queued.jpg", "stale_processing.jpg"):
        shutil.copy(mesh.image_root / "obama2.jpg", mesh.image_root / name)
    mesh.sql_bulk(
        "INSERT INTO images (path, path_hash, queued_at) VALUES"
        " ('stale_queued.jpg', UNHEX(SHA2('stale_queued.jpg', 256)), NOW(6) - INTERVAL 1 HOUR)"
    )
    mesh.sql_bulk(
        "INSERT INTO images (path, path_hash, status, attempts, claim_token, started_at) VALUES"
        " ('stale_processing.jpg', UNHEX(SHA2('stale_processing.jpg', 256)), 'PROCESSING', 1,"
        " 'dead0000000000000000000000000000', NOW(6) - INTERVAL 1 HOUR)"
    )
    ids = {
        row["path"]: row["id"]
        for row in mesh.sql(
            "SELECT id, path FROM images WHERE path IN ('stale_queued.jpg', 'stale_processing.jpg')"
        )
    }

    report = _retry(mesh)
    assert ids["stale_queued.jpg"] in report["by_reason"]["stale_queued"]
    assert ids["stale_processing.jpg"] in report["by_reason"]["stale_processing"]
    for image_id in ids.values():
        assert mesh.wait_final(image_id)["status"] == "PROCESSED"


def test_two_retry_jobs_at_once_requeue_each_record_once(mesh):
    for index in range(6):
        name = f"race_{index}.jpg"
        mesh.sql_bulk(
            "INSERT INTO images (path, path_hash, queued_at) VALUES (%s, UNHEX(SHA2(%s, 256)),"
            " NOW(6) - INTERVAL 1 HOUR)",
            (name, name),
        )
    import concurrent.futures

    with concurrent.futures.ThreadPoolExecutor(2) as pool:
        reports = list(pool.map(lambda _: _retry(mesh), range(2)))
    won = [i for report in reports for i in report["by_reason"]["stale_queued"]]
    assert len(won) == len(set(won))
    race_ids = {row["id"] for row in mesh.sql("SELECT id FROM images WHERE path LIKE 'race\\_%'")}
    assert race_ids <= set(won)
    for image_id in race_ids:
        assert mesh.wait_final(image_id)["status"] == "FAILED"  # the files do not exist
