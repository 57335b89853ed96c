"""The `images` table: statuses and every state transition, each one a conditional UPDATE."""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass
from enum import StrEnum

from kubeface.db import Database


class ImageStatus(StrEnum):
    QUEUED = "QUEUED"
    PROCESSING = "PROCESSING"
    PROCESSED = "PROCESSED"  # a known person was recognised
    PENDING = "PENDING"  # no known person matched, or no face was found
    FAILED = "FAILED"  # the image could not be processed; detail says why

    @property
    def is_final(self) -> bool:
        return self in (ImageStatus.PROCESSED, ImageStatus.PENDING, ImageStatus.FAILED)


DETAIL_MAX = 1024


def path_hash(relative_path: str) -> bytes:
    return hashlib.sha256(relative_path.encode("utf-8")).digest()


@dataclass(frozen=True)
class Claim:
    image_id: int
    path: str
    token: str
    attempts: int


@dataclass(frozen=True)
class FaceRecord:
    top: int
    right: int
    bottom: int
    left: int
    person_id: int | None
    person_image_id: int | None
    distance: float | None


@dataclass(frozen=True)
class Posted:
    image_id: int
    status: ImageStatus
    created: bool


def insert_images(db: Database, relative_paths: list[str]) -> list[Posted]:
    """Store many posted paths in one transaction; one Posted per path, in order.

    One multi-row INSERT IGNORE ... RETURNING (MariaDB >= 10.5) tells which rows it created;
    the others already existed. Of equal paths in one call, the first creates the row.
    """
    digests = [path_hash(path) for path in relative_paths]
    # Sorted, so that two batches lock the unique keys in the same order and cannot deadlock.
    unique = sorted(dict(zip(digests, relative_paths, strict=True)).items())
    with db.transaction() as cur:
        cur.execute(
            "INSERT IGNORE INTO images (path, path_hash) VALUES "
            + ",".join(["(%s, %s)"] * len(unique))
            + " RETURNING id, path_hash",
            [value for digest, path in unique for value in (path, digest)],
        )
        created = {row["path_hash"]: row["id"] for row in cur.fetchall()}
        missing = [digest for digest, _ in unique if digest not in created]
        existing = {}
        if missing:
            cur.execute(
                "SELECT id, status, path_hash FROM images WHERE path_hash IN ("
                + ",".join(["%s"] * len(missing))
                + ")",
                missing,
            )
            existing = {row["path_hash"]: row for row in cur.fetchall()}
    posted, first_seen = [], set()
    for digest in digests:
        if digest in created:
            posted.append(Posted(created[digest], ImageStatus.QUEUED, created=digest not in first_seen))
            first_seen.add(digest)
        else:
            row = existing[digest]
            posted.append(Posted(row["id"], ImageStatus(row["status"]), created=False))
    return posted


def claim_image(db: Database, image_id: int, lease_seconds: float) -> Claim | None:
    """Take the row for processing, atomically; None when someone else holds it or it is final.

    A PROCESSING row whose lease ran out (its processor died) may be taken over.
    """
    token = uuid.uuid4().hex
    with db.transaction() as cur:
        cur.execute(
            "UPDATE images SET status = 'PROCESSING', claim_token = %s, attempts = attempts + 1,"
            " started_at = NOW(6), finished_at = NULL"
            " WHERE id = %s AND (status = 'QUEUED'"
            "   OR (status = 'PROCESSING' AND started_at < NOW(6) - INTERVAL %s MICROSECOND))",
            (token, image_id, int(lease_seconds * 1_000_000)),
        )
        if cur.rowcount != 1:
            return None
        cur.execute("SELECT path, attempts FROM images WHERE id = %s", (image_id,))
        row = cur.fetchone()
    return Claim(image_id, row["path"], token, row["attempts"])


def get_status(db: Database, image_id: int) -> ImageStatus | None:
    with db.transaction() as cur:
        cur.execute("SELECT status FROM images WHERE id = %s", (image_id,))
        row = cur.fetchone()
    return ImageStatus(row["status"]) if row else None


def complete_image(
    db: Database,
    claim: Claim,
    status: ImageStatus,
    *,
    person_id: int | None = None,
    detail: str | None = None,
    faces: list[FaceRecord] = (),
) -> bool:
    """Write the outcome and the faces in one transaction; False if the claim was lost meanwhile."""
    assert status.is_final
    with db.transaction() as cur:
        cur.execute(
            "UPDATE images SET status = %s, person_id = %s, detail = %s, claim_token = NULL,"
            " finished_at = NOW(6) WHERE id = %s AND status = 'PROCESSING' AND claim_token = %s",
            (status.value, person_id, _clip(detail), claim.image_id, claim.token),
        )
        if cur.rowcount != 1:
            return False
        # Faces of an earlier attempt go, by primary key: deleting `WHERE image_id = …` locked the
        # index gap where other images' new faces go, and concurrent outcomes deadlocked (1213).
        # A plain read takes no lock, and the claim token keeps every other writer off this image.
        cur.execute("SELECT id FROM faces WHERE image_id = %s", (claim.image_id,))
        earlier = [row["id"] for row in cur.fetchall()]
        if earlier:
            cur.execute("DELETE FROM faces WHERE id IN %s", (earlier,))
        if faces:
            cur.executemany(
                "INSERT INTO faces (image_id, box_top, box_right, box_bottom, box_left, person_id,"
                " person_image_id, distance) VALUES (%s, %s, %s, %s, %s, %s, %s, %s)",
                [
                    (
                        claim.image_id,
                        f.top,
                        f.right,
                        f.bottom,
                        f.left,
                        f.person_id,
                        f.person_image_id,
                        f.distance,
                    )
                    for f in faces
                ],
            )
    return True


def release_claim(db: Database, claim: Claim, detail: str, *, count_attempt: bool) -> bool:
    """Give the row back to the queue after a transient failure."""
    with db.transaction() as cur:
        cur.execute(
            "UPDATE images SET status = 'QUEUED', claim_token = NULL, detail = %s, queued_at = NOW(6),"
            " attempts = attempts - %s WHERE id = %s AND status = 'PROCESSING' AND claim_token = %s",
            (_clip(detail), 0 if count_attempt else 1, claim.image_id, claim.token),
        )
        return cur.rowcount == 1


def _clip(detail: str | None) -> str | None:
    if detail is None or len(detail) <= DETAIL_MAX:
        return detail
    return detail[: DETAIL_MAX - 1] + "…"


def get_image(db: Database, image_id: int) -> dict | None:
    """The row with its person's name and every face, as the API shows it."""
    with db.transaction() as cur:
        cur.execute(
            "SELECT i.id, i.path, i.status, i.person_id, p.name AS person, i.detail, i.attempts,"
            " i.created_at, i.queued_at, i.started_at, i.finished_at, i.updated_at"
            " FROM images i LEFT JOIN person p ON p.id = i.person_id WHERE i.id = %s",
            (image_id,),
        )
        image = cur.fetchone()
        if image is None:
            return None
        cur.execute(
            "SELECT f.box_top, f.box_right, f.box_bottom, f.box_left, f.person_id, p.name AS person,"
            " f.distance FROM faces f LEFT JOIN person p ON p.id = f.person_id"
            " WHERE f.image_id = %s ORDER BY f.id",
            (image_id,),
        )
        faces = cur.fetchall()
    image["faces"] = [
        {
            "box": {
                "top": f["box_top"],
                "right": f["box_right"],
                "bottom": f["box_bottom"],
                "left": f["box_left"],
            },
            "person": f["person"],
            "person_id": f["person_id"],
            "distance": f["distance"],
        }
        for f in faces
    ]
    return image
