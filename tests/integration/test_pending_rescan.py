"""The retry pass after an enrolment (requeue_pending_after_enrolment) re-queues PENDING images
with faces, and reads its batch, not the PENDING images with no face (migration 0010).

Each test on a database of its own: a pass takes the oldest due rows of the whole table.
"""

from __future__ import annotations

import numpy as np
import pytest

from kubeface.db import Database
from kubeface.images import (
    FaceRecord,
    ImageStatus,
    claim_image,
    complete_image,
    insert_images,
    requeue_failed_due,
    requeue_final_image,
    requeue_pending_after_enrolment,
)
from kubeface.people import EnrolledImage, create_person
from tests.mysql_reads import rows_read
from tests.upgrades import upgrade_across

pytestmark = pytest.mark.mesh

A_FACE = FaceRecord(top=10, right=60, bottom=60, left=10, person_id=None, person_image_id=None, distance=0.8)
BATCH = 10
# A batch, an index probe or two per row and the latest enrolment; far below the faceless rows.
PASS_BOUND = 5 * BATCH


def _enrol(db: Database, name: str) -> None:
    create_person(db, name, [EnrolledImage(f"people/{name}.jpg", np.zeros(128))])


def _finish_pending(db: Database, paths: list[str], *, faces: bool) -> list[int]:
    """Post `paths` and record each as a processor does: PENDING, with a face or with none."""
    ids = [posted.image_id for posted in insert_images(db, paths)]
    for image_id in ids:
        _reprocess(db, image_id, faces=faces)
    return ids


def _reprocess(db: Database, image_id: int, *, faces: bool) -> None:
    claim = claim_image(db, image_id, lease_seconds=3600)
    assert claim is not None
    detail = "no known person matched" if faces else "no face found"
    recorded = complete_image(db, claim, ImageStatus.PENDING, detail=detail, faces=[A_FACE] if faces else [])
    assert recorded


def _status(db: Database, image_id: int) -> str:
    with db.transaction() as cur:
        cur.execute("SELECT status FROM images WHERE id = %s", (image_id,))
        return str(cur.fetchone()["status"])


def test_a_pass_after_an_enrolment_reads_its_batch_not_the_images_with_no_face(own_db):
    """Before 0010 the pass walked every PENDING row finished before the enrolment, oldest first,
    and looked up each one's faces: the rows with no face never left that range, so every pass,
    each minute, read all of them again (seconds at millions of rows)."""
    db = own_db(mysql_pool_size=1)
    _finish_pending(db, [f"blank/{n}.jpg" for n in range(400)], faces=False)
    with_faces = _finish_pending(db, [f"crowd/{n}.jpg" for n in range(2 * BATCH)], faces=True)
    _enrol(db, "rescan-cost")

    def dry_pass(db: Database) -> list[int]:
        return requeue_pending_after_enrolment(db, limit=BATCH, dry_run=True)

    read = rows_read(db, dry_pass)
    assert dry_pass(db) == with_faces[:BATCH]  # the oldest with a face, none of the blank ones
    assert read <= PASS_BOUND, read
    with db.transaction() as cur:  # the latest enrolment: one index entry, not the gallery
        cur.execute("EXPLAIN SELECT MAX(created_at) FROM person_images")
        assert cur.fetchone()["Extra"] == "Select tables optimized away"


def test_the_pass_follows_each_images_latest_outcome(own_db):
    """Re-queued: a PENDING image with faces, finished before the enrolment. Not: one with no
    face. An image whose later attempt found a face (or lost it) counts as that attempt says."""
    db = own_db()
    [faced] = _finish_pending(db, ["rescan/faced.jpg"], faces=True)
    [blank] = _finish_pending(db, ["rescan/blank.jpg"], faces=False)
    _enrol(db, "rescan-first")
    assert requeue_pending_after_enrolment(db, limit=100) == [faced]
    assert (_status(db, faced), _status(db, blank)) == ("QUEUED", "PENDING")

    _reprocess(db, faced, faces=False)  # its file was replaced: no face now
    assert requeue_final_image(db, blank) == [blank]
    _reprocess(db, blank, faces=True)  # re-processed: a face this time
    assert requeue_pending_after_enrolment(db, limit=100) == []  # both finished after the enrolment
    _enrol(db, "rescan-second")
    assert requeue_pending_after_enrolment(db, limit=100) == [blank]
    assert (_status(db, faced), _status(db, blank)) == ("PENDING", "QUEUED")


def test_the_upgrade_flags_the_images_already_there(mesh, empty_database, tmp_path):
    """A deployment with images before migration 0010: after `kubeface migrate`, the PENDING
    images with faces are re-queued after an enrolment, the others are not; and so is one that a
    processor of the older version finished after the upgrade (it leaves the flag unset)."""
    old = empty_database
    rows = {  # path: (status, faces)
        "old/pending-faced.jpg": ("PENDING", 2),
        "old/pending-blank.jpg": ("PENDING", 0),
        "old/processed.jpg": ("PROCESSED", 1),
        "old/failed.jpg": ("FAILED", 0),
        "old/queued.jpg": ("QUEUED", 0),
    }

    def insert(path: str, status: str, faces: int) -> None:
        mesh.sql(
            f"INSERT INTO {old}.images (path, path_hash, status, finished_at)"
            " VALUES (%s, UNHEX(SHA2(%s, 256)), %s, IF(%s = 'QUEUED', NULL, NOW(6) - INTERVAL 1 HOUR))",
            (path, path, status, status),
        )
        for _ in range(faces):
            mesh.sql(
                f"INSERT INTO {old}.faces (image_id, box_top, box_right, box_bottom, box_left)"
                f" SELECT id, 0, 1, 1, 0 FROM {old}.images WHERE path = %s",
                (path,),
            )

    def older_release_rows() -> None:
        for path, (status, faces) in rows.items():
            insert(path, status, faces)

    upgrade_across(mesh, empty_database, "0010", tmp_path, older_release_rows)
    flags = {row["path"]: row["has_faces"] for row in mesh.sql(f"SELECT path, has_faces FROM {old}.images")}
    assert flags == {
        "old/pending-faced.jpg": 1,
        "old/pending-blank.jpg": 0,
        "old/processed.jpg": 1,
        "old/failed.jpg": 0,
        "old/queued.jpg": None,  # no outcome yet: its outcome will say
    }

    insert("old/finished-by-an-older-processor.jpg", "PENDING", 1)  # after the upgrade, flag unset
    db = Database(mesh.settings(mysql_database=empty_database))
    try:
        _enrol(db, "rescan-upgrade")
        won = requeue_pending_after_enrolment(db, limit=100)
        with db.transaction() as cur:
            cur.execute("SELECT path FROM images WHERE id IN %s ORDER BY path", (won or [0],))
            assert [row["path"] for row in cur.fetchall()] == [
                "old/finished-by-an-older-processor.jpg",
                "old/pending-faced.jpg",
            ]
    finally:
        db.close()


def _finish_as_the_release_before_0010(db: Database, image_id: int) -> None:
    """What a processor of the release before 0010 writes (its claim and outcome SQL, copied):
    PENDING with a face, and nothing about `has_faces`."""
    with db.transaction() as cur:
        cur.execute(
            "UPDATE images SET status = 'PROCESSING', claim_token = 'older', attempts = attempts + 1,"
            " started_at = NOW(6), finished_at = NULL WHERE id = %s AND status = 'QUEUED'",
            (image_id,),
        )
        assert cur.rowcount == 1
        cur.execute(
            "UPDATE images SET status = 'PENDING', person_id = NULL, detail = 'no known person matched',"
            " claim_token = NULL, finished_at = NOW(6) WHERE id = %s AND claim_token = 'older'",
            (image_id,),
        )
        cur.execute(
            "INSERT INTO faces (image_id, box_top, box_right, box_bottom, box_left)"
            " VALUES (%s, 10, 60, 60, 10)",
            (image_id,),
        )


def test_an_older_processors_outcome_after_a_retry_counts_as_its_faces_say(own_db):
    """During a rolling upgrade: a new processor records FAILED (no face: flag 0), the retry pass
    re-queues it, and a processor of the older release finds a face (PENDING). The flag of the
    failed attempt must not hide that face from the pass after an enrolment."""
    db = own_db()
    [image_id] = [posted.image_id for posted in insert_images(db, ["rolling/failed-then-faced.jpg"])]
    claim = claim_image(db, image_id, lease_seconds=3600)
    assert claim is not None
    assert complete_image(db, claim, ImageStatus.FAILED, detail="recognizer unavailable")
    assert requeue_failed_due(db, max_attempts=5, backoff_seconds=0, limit=10) == [image_id]
    _finish_as_the_release_before_0010(db, image_id)
    _enrol(db, "rescan-rolling")
    assert requeue_pending_after_enrolment(db, limit=100) == [image_id]
    assert _status(db, image_id) == "QUEUED"
