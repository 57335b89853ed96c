"""Enrolments that commit out of id order are still loaded by the recognizer's gallery.

Recognizers load `person_images` rows with `id > last seen`. Two overlapping transactions on the
real MariaDB: the first takes an id, the second a higher one and commits first; a refresh in
between must not make the first row invisible for ever.
"""

from __future__ import annotations

import uuid
from concurrent.futures import ThreadPoolExecutor, wait

import numpy as np
import pymysql
import pytest

from kubeface.image_files import ImageFileMissing
from kubeface.people import EnrolledImage, create_person, insert_person_images
from recognizer.gallery import GalleryStore

pytestmark = pytest.mark.mesh


@pytest.fixture
def store(mesh, db):
    store = GalleryStore(db, _encoded_already, mesh.image_root)
    store.refresh()
    return store


def _encoded_already(image_path):
    # These tests' rows carry their encodings; a row another test left without one is skipped.
    raise ImageFileMissing(f"not encoded here: {image_path.relative}")


def _encoding(rng: np.random.Generator) -> np.ndarray:
    vector = rng.normal(size=128)
    return vector / np.linalg.norm(vector)  # far from any real face's encoding


def _loaded_as(store: GalleryStore, encoding: np.ndarray) -> int | None:
    [match] = store.gallery.nearest([encoding])
    return match.person_image_id if match is not None and match.distance < 1e-6 else None


def _admin_connection(mesh) -> pymysql.connections.Connection:
    return pymysql.connect(**mesh.db_params, cursorclass=pymysql.cursors.DictCursor, autocommit=False)


def test_two_overlapping_enrolments_are_both_loaded(mesh, db, store):
    tag, rng = uuid.uuid4().hex[:8], np.random.default_rng()
    first, second = _encoding(rng), _encoding(rng)
    slow = _admin_connection(mesh)
    try:
        with slow.cursor() as cur:  # an enrolment that has inserted its photo but not committed
            cur.execute("INSERT INTO person (name) VALUES (%s)", (f"slow-{tag}",))
            [first_id] = insert_person_images(
                cur, cur.lastrowid, [EnrolledImage(f"order/{tag}-1.jpg", first)]
            )
        with ThreadPoolExecutor(1) as pool:
            fast = pool.submit(
                create_person, db, f"fast-{tag}", [EnrolledImage(f"order/{tag}-2.jpg", second)]
            )
            wait([fast], timeout=3)  # give it the chance to commit first, if it can
            store.refresh()  # a recognizer refreshes while the first is still open
            slow.commit()
            [second_id] = fast.result(timeout=60).person_image_ids
    finally:
        slow.close()
    store.refresh()
    assert (_loaded_as(store, first), _loaded_as(store, second)) == (first_id, second_id)


def test_a_row_inserted_by_hand_below_a_loaded_id_is_loaded(mesh, db, store):
    """SQL typed by an operator takes no lock: the next refresh notices the row and loads it."""
    tag, rng = uuid.uuid4().hex[:8], np.random.default_rng()
    late, early = _encoding(rng), _encoding(rng)
    by_hand = _admin_connection(mesh)
    try:
        with by_hand.cursor() as cur:
            cur.execute("INSERT INTO person (name) VALUES (%s)", (f"by-hand-{tag}",))
            cur.execute(
                "INSERT INTO person_images (person_id, path, path_hash, encoding)"
                " VALUES (%s, %s, UNHEX(SHA2(%s, 256)), %s)",
                (cur.lastrowid, f"order/{tag}-h.jpg", f"order/{tag}-h.jpg", late.astype("<f8").tobytes()),
            )
            late_id = cur.lastrowid
        [early_id] = create_person(
            db, f"early-{tag}", [EnrolledImage(f"order/{tag}-e.jpg", early)]
        ).person_image_ids
        # The lock held by the open hand-typed insert blocks nothing here: it took none.
        store.refresh()
        by_hand.commit()
    finally:
        by_hand.close()
    store.refresh()
    assert (_loaded_as(store, late), _loaded_as(store, early)) == (late_id, early_id)
