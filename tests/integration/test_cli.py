"""The operator's command line against the real mesh: post, enroll, status, retry."""

from __future__ import annotations

import json
import shutil

import pytest

from tests.photos import CLI_FACES, SPARE_FACE, unique_name
from tests.servers import TESTS_ACCOUNT

pytestmark = pytest.mark.mesh


# `kubeface recount` writes every counter: an account like the migrate Job's, not the frontend's.
WRITER = TESTS_ACCOUNT


def _json(result) -> dict:
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_post_a_folder_waits_and_summarises_by_status(mesh):
    folder = mesh.image_root / "cli_batch"
    folder.mkdir()
    shutil.copy(mesh.image_root / "obama2.jpg", folder / "a_known.jpg")
    shutil.copy(mesh.image_root / "no_face.png", folder / "b_no_face.png")
    shutil.copy(mesh.image_root / "corrupt.jpg", folder / "c_corrupt.jpg")
    (folder / "notes.txt").write_text("not a picture; skipped")

    result = mesh.run("post", str(folder), "--wait", "--timeout", "120", "--json")
    summary = _json(result)
    assert summary["posted"] == 3 and summary["refused"] == []
    assert summary["by_status"] == {"FAILED": 1, "PENDING": 1, "PROCESSED": 1}
    assert [f["path"] for f in summary["failed"]] == ["cli_batch/c_corrupt.jpg"]
    assert result.returncode == 1, "a FAILED image makes the command fail, for scripts to notice"

    table = mesh.run("post", "cli_batch/a_known.jpg", "--wait")
    assert table.returncode == 0, table.stderr
    assert "PROCESSED" in table.stdout and "duplicates" in table.stdout


def test_post_reports_refused_paths_and_exits_non_zero(mesh):
    result = mesh.run("post", "../outside.jpg", "--json")
    assert result.returncode == 1
    [refused] = _json(result)["refused"]
    assert "outside the image root" in refused["error"]


def test_post_says_when_the_receiver_is_unreachable(mesh):
    result = mesh.run("post", "obama2.jpg", "--receiver-url", "http://127.0.0.1:9")
    assert result.returncode == 2
    assert "unreachable" in result.stderr and "Traceback" not in result.stderr


def test_enroll_from_dir_enrols_one_person_per_folder(mesh):
    if not (mesh.image_root / CLI_FACES).is_dir():
        pytest.skip("../shared/faces is absent: the sdist's faces are all spoken for by other tests")
    # The faces this test may enrol (tests.photos), each under a name of its own.
    kit, lin = unique_name("cli_kit"), unique_name("cli_lin")
    layout = mesh.image_root / unique_name("cli_known")
    shutil.copytree(mesh.image_root / CLI_FACES, layout / kit)
    (layout / lin).mkdir()
    shutil.copy(mesh.image_root / SPARE_FACE, layout / lin / "img1.png")
    result = mesh.run("enroll", "--from-dir", layout.name, "--json")
    assert result.returncode == 0, result.stderr
    enrolled = _json(result)
    assert enrolled["enrolled"] == 3
    names = {r["name"] for r in enrolled["results"]}
    assert names == {kit, lin}
    rows = mesh.sql(
        "SELECT p.name, COUNT(*) AS n FROM person p JOIN person_images pi ON pi.person_id = p.id"
        " WHERE p.name IN (%s, %s) GROUP BY p.name ORDER BY p.name",
        (kit, lin),
    )
    assert [(r["name"], r["n"]) for r in rows] == [(kit, 2), (lin, 1)]


def test_enroll_with_a_photo_without_a_face_fails_and_says_why(mesh):
    result = mesh.run("enroll", "cli_nobody", "no_face.png")
    assert result.returncode == 1
    assert "no face found" in result.stderr
    assert not mesh.sql("SELECT id FROM person WHERE name = 'cli_nobody'")


def test_status_shows_counts_oldest_breaker_and_queue(mesh):
    # Raw SQL, as a bulk load would write: the counters don't see it until `kubeface recount`.
    mesh.sql(
        "INSERT INTO images (path, path_hash, queued_at) VALUES"
        " ('cli_old_queued.jpg', UNHEX(SHA2('cli_old_queued.jpg', 256)), NOW(6) - INTERVAL 2 HOUR)"
    )
    recounted = mesh.run("recount", env=WRITER)
    assert recounted.returncode == 0, recounted.stderr
    result = mesh.run("status", "--json")
    assert result.returncode == 0, result.stderr
    report = _json(result)
    total = mesh.sql("SELECT COUNT(*) AS n FROM images")[0]["n"]
    assert sum(report["counts"].values()) == total
    assert report["oldest"]["QUEUED"][0]["path"] == "cli_old_queued.jpg"
    assert report["system"]["breaker"] == "closed"
    assert isinstance(report["system"]["queue_depth"], int)
    human = mesh.run("status")
    assert "breaker: closed" in human.stdout and "oldest QUEUED" in human.stdout
    # Leave nothing stale behind for the retry tests, and the counters right.
    mesh.sql("DELETE FROM images WHERE path = 'cli_old_queued.jpg'")
    assert mesh.run("recount", env=WRITER).returncode == 0
    assert sum(_json(mesh.run("status", "--json"))["counts"].values()) == total - 1


def test_status_fails_when_a_service_does_not_answer(mesh):
    result = mesh.run("status", env={"PROCESSOR_METRICS_URL": "http://127.0.0.1:9/metrics"})
    assert result.returncode == 2
    assert "processor metrics" in result.stderr


def test_retry_prints_what_it_requeued(mesh):
    image = mesh.wait_final(mesh.post("cli_late.jpg")["id"])
    assert image["status"] == "FAILED"
    dry = mesh.run("retry", "--dry-run", env={"RETRY_BACKOFF_SECONDS": "0"})
    assert dry.returncode == 0, dry.stderr
    assert "would re-queue" in dry.stdout
    assert any(
        line.split()[:3] == [str(image["id"]), "failed", "cli_late.jpg"] for line in dry.stdout.splitlines()
    )
    assert mesh.sql("SELECT status FROM images WHERE id = %s", (image["id"],))[0]["status"] == "FAILED"


def test_enroll_refuses_a_taken_name_unless_told_to_add(mesh):
    spare = mesh.image_root / "shared" / "lin-manuel-miranda.png"
    if not spare.exists():
        pytest.skip("../shared/faces is absent: the sdist's faces are all spoken for by other tests")
    (mesh.image_root / "cli_add").mkdir(exist_ok=True)
    for name in ("first.png", "second.png"):
        shutil.copy(spare, mesh.image_root / "cli_add" / name)
    created = mesh.run("enroll", "cli_lin", "cli_add/first.png")
    assert created.returncode == 0, created.stderr
    refused = mesh.run("enroll", "cli_lin", "cli_add/second.png")
    assert refused.returncode == 1
    assert "already enrolled" in refused.stderr and "--add" in refused.stderr
    photos = (
        "SELECT COUNT(*) AS n FROM person_images pi JOIN person p ON p.id = pi.person_id"
        " WHERE p.name = 'cli_lin'"
    )
    assert mesh.sql(photos)[0]["n"] == 1
    added = mesh.run("enroll", "--add", "cli_lin", "cli_add/second.png", "--json")
    assert added.returncode == 0, added.stderr
    assert _json(added)["enrolled"] == 1
    assert mesh.sql(photos)[0]["n"] == 2
