"""Known people: `person` and `person_images`, written by enrolment."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from kubeface.db import Cursor, Database
from kubeface.images import path_hash


@dataclass(frozen=True)
class EnrolledImage:
    path: str  # relative to the image root
    encoding: np.ndarray


@dataclass(frozen=True)
class Enrolment:
    person_id: int
    created: bool
    person_image_ids: list[int]


def enroll_person(db: Database, name: str, images: list[EnrolledImage]) -> Enrolment:
    """Create the person if new and add the photos with their encodings, in one transaction."""
    with db.transaction() as cur:
        cur.execute("INSERT IGNORE INTO person (name) VALUES (%s)", (name,))
        created = cur.rowcount == 1
        cur.execute("SELECT id FROM person WHERE name = %s", (name,))
        person_id = cur.fetchone()["id"]
        image_ids = insert_person_images(cur, person_id, images)
    return Enrolment(person_id, created, image_ids)


def insert_person_images(cur: Cursor, person_id: int, images: list[EnrolledImage]) -> list[int]:
    """Add photos to a person inside the caller's transaction; their person_images ids.

    Every insert into person_images goes through here. It first locks the one row of
    `gallery_writes` until the transaction ends, so ids are handed out in commit order:
    recognizers load `id > last seen`, and a lower id committing after a higher one had been
    read would never be loaded (two enrolments at once did it).
    """
    cur.execute("UPDATE gallery_writes SET writes = writes + 1 WHERE id = 1")
    image_ids = []
    for image in images:
        cur.execute(
            "INSERT INTO person_images (person_id, path, path_hash, encoding) VALUES (%s, %s, %s, %s)"
            " ON DUPLICATE KEY UPDATE encoding = VALUES(encoding), id = LAST_INSERT_ID(id)",
            (person_id, image.path, path_hash(image.path), np.asarray(image.encoding, dtype="<f8").tobytes()),
        )
        image_ids.append(cur.lastrowid)
    return image_ids
