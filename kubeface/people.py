"""Known people: `person` and `person_images`, written by enrolment.

Creating a person and adding photos to one are separate calls on purpose: a typed name that
happens to exist must never attach someone else's face to that person.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

import numpy as np

from kubeface.audit import AuditAction, AuditEntry, record
from kubeface.db import Cursor, Database
from kubeface.encodings import encoding_to_bytes
from kubeface.images import path_hash
from kubeface.images.relabel import (
    Unlinked,
    relabel_merged_person,
    unlink_erased_person,
    unlink_removed_photo,
)


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


class PhotoNotFound(LookupError):
    def __init__(self, person_id: int, photo_id: int) -> None:
        super().__init__(f"person {person_id} has no photo with id {photo_id}")


class MergeIntoItself(ValueError):
    def __init__(self, person_id: int) -> None:
        super().__init__(f"cannot merge person {person_id} into itself; pick another person as `into`")


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


@dataclass(frozen=True)
class Erasure:
    """What erasing a person removed: the receipt the operator gets."""

    person_id: int
    name: str
    photos_removed: int
    faces_unlinked: int
    images_requeued: list[int]  # the caller publishes these
    erased_at: datetime


@dataclass(frozen=True)
class Merge:
    person_id: int
    into: int
    name: str  # the merged person's old name
    into_name: str
    photos_moved: int
    faces_relabelled: int
    images_requeued: list[int]  # named both people on two faces; the caller publishes these


@dataclass(frozen=True)
class PhotoRemoval:
    person_id: int
    photo_id: int
    faces_unlinked: int
    images_requeued: list[int]  # the caller publishes these


def _gallery_changed(cur: Cursor) -> None:
    """Tell every recognizer to reload its whole gallery (a change no new row shows), and take
    the gallery lock that enrolments take, so the two never interleave."""
    cur.execute("UPDATE gallery_writes SET changes = changes + 1 WHERE id = 1")


def _locked_name(cur: Cursor, person_id: int) -> str:
    cur.execute("SELECT name FROM person WHERE id = %s FOR UPDATE", (person_id,))
    row = cur.fetchone()
    if row is None:
        raise PersonNotFound(person_id)
    return str(row["name"])


def rename_person(db: Database, person_id: int, name: str, *, actor: str) -> str:
    """Give the person a new name; the old one. PersonExists if another person has it."""
    with db.transaction() as cur:
        _gallery_changed(cur)  # recognizers answer with names
        old = _locked_name(cur, person_id)
        cur.execute("SELECT id FROM person WHERE name = %s", (name,))
        taken = cur.fetchone()
        if taken is not None and taken["id"] != person_id:
            raise PersonExists(name, taken["id"])
        cur.execute("UPDATE person SET name = %s WHERE id = %s", (name, person_id))
        record(
            cur,
            actor=actor,
            action=AuditAction.RENAME,
            target=f"person:{person_id}",
            details={"from": old, "to": name},
        )
    return old


def merge_people(db: Database, person_id: int, into: int, *, actor: str) -> Merge:
    """Move `person_id`'s photos to `into`, relabel what named them, and remove `person_id`."""
    if person_id == into:
        raise MergeIntoItself(person_id)
    with db.transaction() as cur:
        _gallery_changed(cur)
        # Both rows locked in id order: two merges of the same pair cannot deadlock.
        names = {pid: _locked_name(cur, pid) for pid in sorted((person_id, into))}
        photo_ids = _move_photos(cur, person_id, into)
        relabelled = relabel_merged_person(cur, person_id, into, photo_ids)
        cur.execute("DELETE FROM person WHERE id = %s", (person_id,))
        merge = Merge(
            person_id,
            into,
            names[person_id],
            names[into],
            len(photo_ids),
            relabelled.faces_unlinked,
            relabelled.requeued,
        )
        record(
            cur,
            actor=actor,
            action=AuditAction.MERGE,
            target=f"person:{person_id}",
            details={
                "into": into,
                "name": merge.name,
                "into_name": merge.into_name,
                "photos_moved": merge.photos_moved,
                "images_requeued": merge.images_requeued,
            },
        )
    return merge


def _move_photos(cur: Cursor, person_id: int, into: int) -> dict[int, int]:
    """Each photo of `person_id` now `into`'s (a photo `into` already has is kept once): old id
    -> the id it has now."""
    cur.execute("SELECT id, path_hash FROM person_images WHERE person_id = %s ORDER BY id", (person_id,))
    moved: dict[int, int] = {}
    for row in cur.fetchall():
        cur.execute(
            "SELECT id FROM person_images WHERE person_id = %s AND path_hash = %s", (into, row["path_hash"])
        )
        same = cur.fetchone()
        if same is None:
            cur.execute("UPDATE person_images SET person_id = %s WHERE id = %s", (into, row["id"]))
            moved[row["id"]] = row["id"]
        else:
            moved[row["id"]] = same["id"]
    return moved


def remove_photo(db: Database, person_id: int, photo_id: int, *, actor: str) -> PhotoRemoval:
    """Remove one enrolment photo (its encoding with it); its matches are re-identified."""
    with db.transaction() as cur:
        _gallery_changed(cur)
        _locked_name(cur, person_id)
        cur.execute(
            "SELECT path FROM person_images WHERE id = %s AND person_id = %s FOR UPDATE",
            (photo_id, person_id),
        )
        photo = cur.fetchone()
        if photo is None:
            raise PhotoNotFound(person_id, photo_id)
        unlinked = unlink_removed_photo(cur, photo_id)
        cur.execute("DELETE FROM person_images WHERE id = %s", (photo_id,))
        record(
            cur,
            actor=actor,
            action=AuditAction.REMOVE_PHOTO,
            target=f"person:{person_id}",
            details={"photo_id": photo_id, "path": photo["path"], "images_requeued": unlinked.requeued},
        )
    return PhotoRemoval(person_id, photo_id, unlinked.faces_unlinked, unlinked.requeued)


def erase_person(db: Database, person_id: int, *, actor: str) -> Erasure:
    """Remove the person, their photos and encodings; unlink their faces and re-identify every
    image that named them. One transaction, with its audit record."""
    with db.transaction() as cur:
        _gallery_changed(cur)
        name = _locked_name(cur, person_id)
        unlinked: Unlinked = unlink_erased_person(cur, person_id)
        cur.execute("DELETE FROM person_images WHERE person_id = %s", (person_id,))
        photos = cur.rowcount
        cur.execute("DELETE FROM person WHERE id = %s", (person_id,))
        cur.execute("SELECT NOW(6) AS now")
        now = cur.fetchone()
        assert now is not None  # SELECT NOW() always answers one row
        erasure = Erasure(person_id, name, photos, unlinked.faces_unlinked, unlinked.requeued, now["now"])
        # The name stays in the log: who was erased, when and by whom is what an erasure must prove.
        record(
            cur,
            actor=actor,
            action=AuditAction.ERASE,
            target=f"person:{person_id}",
            details={
                "name": name,
                "photos_removed": photos,
                "faces_unlinked": erasure.faces_unlinked,
                "images_requeued": len(erasure.images_requeued),
            },
        )
    return erasure
