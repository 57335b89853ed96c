"""Known people: `person` and `person_images`, written by enrolment.

Creating a person and adding photos to one are separate calls on purpose: a typed name that
happens to exist must never attach someone else's face to that person.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

import numpy as np

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


def create_person(db: Database, name: str, images: list[EnrolledImage]) -> Enrolment:
    """Create a new person with their photos, in one transaction; PersonExists if the name is taken."""
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
    return Enrolment(person_id, name, image_ids)


def add_photos(db: Database, person_id: int, images: list[EnrolledImage]) -> Enrolment:
    """Add photos to an existing person; PersonNotFound if there is none with this id."""
    with db.transaction() as cur:
        # FOR SHARE: the person cannot be deleted between this check and the insert.
        cur.execute("SELECT name FROM person WHERE id = %s LOCK IN SHARE MODE", (person_id,))
        row = cur.fetchone()
        if row is None:
            raise PersonNotFound(person_id)
        image_ids = insert_person_images(cur, person_id, images)
    return Enrolment(person_id, row["name"], image_ids)


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


def cache_encoding(db: Database, person_image_id: int, encoding: np.ndarray) -> None:
    """Store the encoding a recognizer had to compute for a photo enrolled without one; a row
    that gained an encoding meanwhile keeps it."""
    with db.transaction() as cur:
        cur.execute(
            "UPDATE person_images SET encoding = %s WHERE id = %s AND encoding IS NULL",
            (encoding_to_bytes(encoding), person_image_id),
        )


class OnConflict(StrEnum):
    """What an import does with a name that is already enrolled."""

    FAIL = "fail"  # import nothing, and list the names
    SKIP = "skip"  # leave that person as they are
    MERGE = "merge"  # add the bundle's photos to them


@dataclass(frozen=True)
class ImportedPerson:
    name: str
    person_id: int | None  # None: skipped
    outcome: str  # created | merged | skipped
    person_image_ids: list[int]


class NamesTaken(Exception):
    """An import with OnConflict.FAIL met names that are enrolled already; nothing was written."""

    def __init__(self, names: list[str]) -> None:
        shown = ", ".join(repr(n) for n in names[:20]) + (" …" if len(names) > 20 else "")
        super().__init__(
            f"{len(names)} name(s) already enrolled: {shown}; nothing was imported. Pass"
            " --on-conflict merge to add the photos to them, or skip to leave them as they are"
        )
        self.names = names


def import_people(
    cur: Cursor, people: list[tuple[str, list[EnrolledImage]]], on_conflict: OnConflict
) -> list[ImportedPerson]:
    """Enrol people with encodings computed elsewhere, inside the caller's transaction (so that
    the caller records them in the audit log in it). NamesTaken, before anything is kept, when
    `on_conflict` is FAIL and any name is taken; the caller's rollback undoes the rest."""
    imported: list[ImportedPerson] = []
    taken: list[str] = []
    for name, images in people:
        cur.execute("INSERT IGNORE INTO person (name) VALUES (%s)", (name,))
        if cur.rowcount == 1:
            person_id = cur.lastrowid
            imported.append(
                ImportedPerson(name, person_id, "created", insert_person_images(cur, person_id, images))
            )
            continue
        cur.execute("SELECT id FROM person WHERE name = %s LOCK IN SHARE MODE", (name,))
        existing = cur.fetchone()
        if existing is None:  # INSERT IGNORE also skips rows it could not store
            raise ValueError(f"person {name!r} could not be stored; check its length and characters")
        if on_conflict is OnConflict.FAIL:
            taken.append(name)
        elif on_conflict is OnConflict.SKIP:
            imported.append(ImportedPerson(name, None, "skipped", []))
        else:
            ids = insert_person_images(cur, existing["id"], images)
            imported.append(ImportedPerson(name, existing["id"], "merged", ids))
    if taken:
        raise NamesTaken(taken)
    return imported
