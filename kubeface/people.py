"""Known people: `person` and `person_images`, written by enrolment.

Creating a person and adding photos to one are separate calls on purpose: a typed name that
happens to exist must never attach someone else's face to that person.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from kubeface.audit import AuditEntry
from kubeface.db import Cursor, Database
from kubeface.encodings import encoding_to_bytes
from kubeface.images import path_hash


@dataclass(frozen=True)
class EnrolledImage:
    path: str  # relative to the image root
    encoding: np.ndarray


@dataclass(frozen=True)
class Enrolment:
    person_id: int
    name: str
    person_image_ids: list[int]


class PersonExists(Exception):
    """Creating a person whose name is taken; adding to them is its own, explicit action."""

    def __init__(self, name: str, person_id: int) -> None:
        super().__init__(f"a person named {name!r} already exists (id {person_id})")
        self.name = name
        self.person_id = person_id


class PersonNotFound(LookupError):
    def __init__(self, person_id: int) -> None:
        super().__init__(f"no person with id {person_id}")
        self.person_id = person_id


def newest_enrolled_id(db: Database) -> int:
    """The id of the newest enrolled photo (0 for none): a recognizer that loaded less is behind."""
    with db.transaction() as cur:
        cur.execute("SELECT COALESCE(MAX(id), 0) AS last FROM person_images")
        row = cur.fetchone()
        return int(row["last"]) if row else 0


def find_person_id(db: Database, name: str) -> int | None:
    """The id of the person with this name, if any (names are unique)."""
    with db.transaction() as cur:
        cur.execute("SELECT id FROM person WHERE name = %s", (name,))
        row = cur.fetchone()
    return row["id"] if row else None


def create_person(
    db: Database, name: str, images: list[EnrolledImage], audit: AuditEntry | None = None
) -> Enrolment:
    """Create a new person with their photos, in one transaction; PersonExists if the name is taken.
    `audit` (action enrol) is recorded in that transaction, as `person:<id>`."""
    with db.transaction() as cur:
        cur.execute("INSERT IGNORE INTO person (name) VALUES (%s)", (name,))
        if cur.rowcount != 1:
            cur.execute("SELECT id FROM person WHERE name = %s", (name,))
            existing = cur.fetchone()
            if existing is None:  # INSERT IGNORE also skips rows it could not store
                raise ValueError(f"person {name!r} could not be stored; check its length and characters")
            raise PersonExists(name, existing["id"])
        person_id = cur.lastrowid
        image_ids = insert_person_images(cur, person_id, images)
        _record(cur, audit, person_id, name, images, image_ids)
    return Enrolment(person_id, name, image_ids)


def add_photos(
    db: Database, person_id: int, images: list[EnrolledImage], audit: AuditEntry | None = None
) -> Enrolment:
    """Add photos to an existing person; PersonNotFound if there is none with this id.
    `audit` (action add_photo) is recorded in the same transaction."""
    with db.transaction() as cur:
        # FOR SHARE: the person cannot be deleted between this check and the insert.
        cur.execute("SELECT name FROM person WHERE id = %s LOCK IN SHARE MODE", (person_id,))
        row = cur.fetchone()
        if row is None:
            raise PersonNotFound(person_id)
        image_ids = insert_person_images(cur, person_id, images)
        _record(cur, audit, person_id, row["name"], images, image_ids)
    return Enrolment(person_id, row["name"], image_ids)


def _record(
    cur: Cursor,
    audit: AuditEntry | None,
    person_id: int,
    name: str,
    images: list[EnrolledImage],
    image_ids: list[int],
) -> None:
    if audit is not None:
        paths = [image.path for image in images]
        audit.record(cur, target=f"person:{person_id}", name=name, paths=paths, person_image_ids=image_ids)


def insert_person_images(cur: Cursor, person_id: int, images: list[EnrolledImage]) -> list[int]:
    """Insert (or re-encode) the person's photos inside the caller's transaction; their ids. A
    photo enrolled twice keeps one row.

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
            (person_id, image.path, path_hash(image.path), encoding_to_bytes(image.encoding)),
        )
        image_ids.append(cur.lastrowid)
    return image_ids
