"""Processors writing outcomes at once do not deadlock one another in MariaDB.

Each outcome replaces the image's faces. Deleting them by `image_id` took next-key locks on the
gap where other images' new faces go, and concurrent inserts then deadlocked (error 1213): about
one message in a hundred under the load test, each requeued with a logged traceback.
"""

from __future__ import annotations

import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest

from kubeface.db import Database
from kubeface.images import FaceRecord, ImageStatus, claim_image, complete_image, insert_images

pytestmark = pytest.mark.mesh

WORKERS, IMAGES_EACH = 6, 40


def test_concurrent_outcomes_with_faces_never_deadlock(mesh):
    db = Database(mesh.settings(mysql_pool_size=WORKERS))
    tag = uuid.uuid4().hex[:8]
    paths = [f"outcomes-{tag}/{i}.jpg" for i in range(WORKERS * IMAGES_EACH)]  # never published
    ids = [posted.image_id for posted in insert_images(db, paths)]
    faces = [FaceRecord(1, 2, 3, 0, None, None, 0.9), FaceRecord(5, 6, 7, 4, None, None, 0.8)]

    def finish_in_turn(chunk: list[int]) -> int:
        for image_id in chunk:
            claim = claim_image(db, image_id, lease_seconds=60)
            assert complete_image(
                db, claim, ImageStatus.PENDING, detail="no known person matched", faces=faces
            )
        return len(chunk)

    try:
        chunks = [ids[i::WORKERS] for i in range(WORKERS)]
        with ThreadPoolExecutor(WORKERS) as pool:
            assert sum(pool.map(finish_in_turn, chunks)) == len(ids)
    finally:
        db.close()
    counts = mesh.sql(
        "SELECT COUNT(*) AS n FROM faces f JOIN images i ON i.id = f.image_id WHERE i.path LIKE %s",
        (f"outcomes-{tag}/%",),
    )
    assert counts[0]["n"] == 2 * len(ids)
