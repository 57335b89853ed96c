"""Writes to `images` and `faces` for an image's life: insert, claim, complete, release; each state
transition one conditional UPDATE. The re-queues are in requeues.py, the changes people make in
relabel.py; no module outside kubeface/images/ writes these tables.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from kubeface.audit import AuditEntry
from kubeface.db import Database
from kubeface.images.counts import count_inserted, counted
from kubeface.images.status import ImageStatus

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
    distance: float | None  # to `person_id` when named, else to the nearest person
    # The nearest person, even when a closer face of the image was named that person.
    nearest_person_id: int | None = None
    nearest_distance: float | None = None
    # The nearest person other than the one named (or nearest); `margin` is its distance.
    runner_up_person_id: int | None = None
    margin: float | None = None
    # The stored encoding (kubeface/encodings.py) of a face that matched nobody, for clustering.
    encoding: bytes | None = None


@dataclass(frozen=True)
class StepTimings:
    """Milliseconds the recognizer spent on one image in each step."""

    decode_ms: float
    detect_ms: float
    encode_ms: float
    match_ms: float


@dataclass(frozen=True)
class Posted:
    image_id: int
    status: ImageStatus
    created: bool


def insert_images(
    db: Database, relative_paths: list[str], audits: Sequence[AuditEntry | None] = ()
) -> list[Posted]:
    """Store many posted paths in one transaction; one Posted per path, in order.

    One multi-row INSERT IGNORE ... RETURNING (MariaDB >= 10.5) tells which rows it created;
    the others already existed. Of equal paths in one call, the first creates the row.
    `audits[i]`, when given, is recorded in the same transaction as `image:<id>` if path i
    created its row (a duplicate writes nothing, so it records nothing).
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
        count_inserted(cur, created.values())
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
        _record_created(cur, digests, created, audits)
    posted, first_seen = [], set()
    for digest in digests:
        if digest in created:
            posted.append(Posted(created[digest], ImageStatus.QUEUED, created=digest not in first_seen))
            first_seen.add(digest)
        else:
            row = existing[digest]
            posted.append(Posted(row["id"], ImageStatus(row["status"]), created=False))
    return posted


def _record_created(
    cur: Any, digests: list[bytes], created: dict[bytes, int], audits: Sequence[AuditEntry | None]
) -> None:
    recorded: set[bytes] = set()
    for digest, audit in zip(digests, audits, strict=False):
        if audit is not None and digest in created and digest not in recorded:
            recorded.add(digest)
            audit.record(cur, target=f"image:{created[digest]}")


def claim_image(db: Database, image_id: int, lease_seconds: float) -> Claim | None:
    """Take the row for processing, atomically; None when someone else holds it or it is final.

    A PROCESSING row whose lease ran out (its processor died) may be taken over.
    """
    token = uuid.uuid4().hex
    with db.transaction() as cur, counted(cur, [image_id]):
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
    assert row is not None  # this transaction just updated it
    return Claim(image_id, row["path"], token, row["attempts"])


def complete_image(
    db: Database,
    claim: Claim,
    status: ImageStatus,
    *,
    person_id: int | None = None,
    detail: str | None = None,
    faces: Sequence[FaceRecord] = (),
    timings: StepTimings | None = None,
) -> bool:
    """Write the outcome and the faces in one transaction; False if the claim was lost meanwhile."""
    assert status.is_final
    steps = (
        (timings.decode_ms, timings.detect_ms, timings.encode_ms, timings.match_ms)
        if timings
        else (None,) * 4
    )
    with db.transaction() as cur, counted(cur, [claim.image_id]):
        cur.execute(
            "UPDATE images SET status = %s, person_id = %s, detail = %s, claim_token = NULL,"
            " finished_at = NOW(6), has_faces = %s, decode_ms = %s, detect_ms = %s, encode_ms = %s,"
            " match_ms = %s WHERE id = %s AND status = 'PROCESSING' AND claim_token = %s",
            (status.value, person_id, _clip(detail), bool(faces), *steps, claim.image_id, claim.token),
        )
        if cur.rowcount != 1:
            return False
        _replace_faces(cur, claim.image_id, faces)
    return True


def _replace_faces(cur: Any, image_id: int, faces: Sequence[FaceRecord]) -> None:
    """In the outcome's transaction: this attempt's faces replace an earlier attempt's."""
    # Faces of an earlier attempt go, by primary key: deleting `WHERE image_id = …` locked the
    # index gap where other images' new faces go, and concurrent outcomes deadlocked (1213).
    # A plain read takes no lock, and the claim token keeps every other writer off this image.
    cur.execute("SELECT id FROM faces WHERE image_id = %s", (image_id,))
    earlier = [row["id"] for row in cur.fetchall()]
    if earlier:
        cur.execute("DELETE FROM faces WHERE id IN %s", (earlier,))
    if not faces:
        return
    cur.executemany(
        "INSERT INTO faces (image_id, box_top, box_right, box_bottom, box_left, person_id,"
        " person_image_id, distance, nearest_person_id, nearest_distance, runner_up_person_id,"
        " margin) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
        [
            (image_id, f.top, f.right, f.bottom, f.left, f.person_id, f.person_image_id, f.distance)
            + (f.nearest_person_id, f.nearest_distance, f.runner_up_person_id, f.margin)
            for f in faces
        ],
    )
    _store_unknown_encodings(cur, image_id, faces)


def _store_unknown_encodings(cur: Any, image_id: int, faces: Sequence[FaceRecord]) -> None:
    """Queue the faces that matched nobody for the clustering worker (kubeface/clustering.py)."""
    if not any(f.encoding for f in faces):
        return
    # executemany inserts in order, so the ids come back in the order of `faces`.
    cur.execute("SELECT id FROM faces WHERE image_id = %s ORDER BY id", (image_id,))
    ids = [int(row["id"]) for row in cur.fetchall()]
    rows = [(face_id, f.encoding) for face_id, f in zip(ids, faces, strict=True) if f.encoding]
    cur.executemany("INSERT INTO face_encodings (face_id, encoding) VALUES (%s, %s)", rows)


def release_claim(db: Database, claim: Claim, detail: str, *, count_attempt: bool) -> bool:
    """Give the row back to the queue after a transient failure."""
    with db.transaction() as cur, counted(cur, [claim.image_id]):
        cur.execute(
            "UPDATE images SET status = 'QUEUED', claim_token = NULL, detail = %s, queued_at = NOW(6),"
            " attempts = attempts - %s WHERE id = %s AND status = 'PROCESSING' AND claim_token = %s",
            (_clip(detail), 0 if count_attempt else 1, claim.image_id, claim.token),
        )
        return bool(cur.rowcount == 1)


def _clip(detail: str | None) -> str | None:
    if detail is None or len(detail) <= DETAIL_MAX:
        return detail
    return detail[: DETAIL_MAX - 1] + "…"
