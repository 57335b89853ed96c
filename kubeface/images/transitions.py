"""Every write to `images` and `faces`: each state transition is one conditional UPDATE.

No other module writes these tables. Each re-queue is a named function whose UPDATE repeats its
selection's predicate, so of two concurrent callers only one wins a given row; it returns exactly
the ids it won, and the caller publishes those.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from kubeface.audit import AuditAction, record
from kubeface.db import Cursor, Database
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
    with db.transaction() as cur:
        cur.execute(
            "UPDATE images SET status = %s, person_id = %s, detail = %s, claim_token = NULL,"
            " finished_at = NOW(6), decode_ms = %s, detect_ms = %s, encode_ms = %s, match_ms = %s"
            " WHERE id = %s AND status = 'PROCESSING' AND claim_token = %s",
            (status.value, person_id, _clip(detail), *steps, claim.image_id, claim.token),
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
                " person_image_id, distance, nearest_person_id, nearest_distance, runner_up_person_id,"
                " margin) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
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
                        f.nearest_person_id,
                        f.nearest_distance,
                        f.runner_up_person_id,
                        f.margin,
                    )
                    for f in faces
                ],
            )
            _store_unknown_encodings(cur, claim.image_id, faces)
    return True


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
    with db.transaction() as cur:
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


# FAILED rows below the attempt limit whose backoff (base * 2^(attempts-1)) has passed.
_FAILED_DUE = (
    "status = 'FAILED' AND attempts < %(max_attempts)s"
    " AND finished_at < NOW(6) - INTERVAL (%(backoff_us)s * POW(2, GREATEST(attempts, 1) - 1)) MICROSECOND"
)
# Claimed by a processor that has held it past the lease: it died or hung.
_PROCESSING_STALE = "status = 'PROCESSING' AND started_at < NOW(6) - INTERVAL %(lease_us)s MICROSECOND"
# Queued long ago and never claimed: its message was lost (say, the receiver died before publishing).
_QUEUED_STALE = "status = 'QUEUED' AND queued_at < NOW(6) - INTERVAL %(lease_us)s MICROSECOND"
# PENDING with faces, finished before the latest enrolment: the new person may be in them.
_PENDING_BEFORE_ENROLMENT = (
    "status = 'PENDING' AND finished_at < (SELECT MAX(created_at) FROM person_images)"
    " AND EXISTS (SELECT 1 FROM faces f WHERE f.image_id = images.id)"
)
_FINAL_IMAGE = "status IN ('PROCESSED', 'PENDING', 'FAILED') AND id = %(image_id)s"
_WITH_STATUS = "status = %(status)s"
_BACK_TO_QUEUE = "status = 'QUEUED', claim_token = NULL, queued_at = NOW(6)"


def _micros(seconds: float) -> int:
    return int(seconds * 1_000_000)


def requeue_failed_due(
    db: Database, *, max_attempts: int, backoff_seconds: float, limit: int, dry_run: bool = False
) -> list[int]:
    """FAILED rows below `max_attempts` whose exponential backoff has passed."""
    params = {"max_attempts": max_attempts, "backoff_us": _micros(backoff_seconds), "limit": limit}
    return _requeue_where(db, _FAILED_DUE, _BACK_TO_QUEUE, params, dry_run=dry_run)


def requeue_stale_processing(
    db: Database, *, lease_seconds: float, limit: int, dry_run: bool = False
) -> list[int]:
    """PROCESSING rows held past the lease: their processor died or hung."""
    assignment = _BACK_TO_QUEUE + ", detail = 'lease expired; re-queued'"
    params = {"lease_us": _micros(lease_seconds), "limit": limit}
    return _requeue_where(db, _PROCESSING_STALE, assignment, params, dry_run=dry_run)


def requeue_stale_queued(
    db: Database, *, lease_seconds: float, limit: int, dry_run: bool = False
) -> list[int]:
    """QUEUED rows never claimed within the lease: their message was lost; the caller re-publishes."""
    params = {"lease_us": _micros(lease_seconds), "limit": limit}
    return _requeue_where(db, _QUEUED_STALE, "queued_at = NOW(6)", params, dry_run=dry_run)


def requeue_pending_after_enrolment(db: Database, *, limit: int, dry_run: bool = False) -> list[int]:
    """PENDING rows with faces, finished before the latest enrolment."""
    params = {"limit": limit}
    return _requeue_where(db, _PENDING_BEFORE_ENROLMENT, _BACK_TO_QUEUE, params, dry_run=dry_run)


def requeue_final_image(db: Database, image_id: int) -> list[int]:
    """One image back to QUEUED if it is final: [image_id] when this call won it, else []."""
    params = {"image_id": image_id, "limit": 1}
    return _requeue_where(db, _FINAL_IMAGE, _BACK_TO_QUEUE, params, dry_run=False)


def requeue_with_status(db: Database, status: ImageStatus, *, limit: int) -> list[int]:
    """Up to `limit` final rows of `status` back to QUEUED, oldest first."""
    if not status.is_final:
        raise ValueError(f"only final images can be re-queued, not {status.value}")
    params = {"status": status.value, "limit": limit}
    return _requeue_where(db, _WITH_STATUS, _BACK_TO_QUEUE, params, dry_run=False)


def _requeue_where(
    db: Database, predicate: str, assignment: str, params: Mapping[str, Any], *, dry_run: bool
) -> list[int]:
    """Move up to params["limit"] rows matching `predicate`; the ids this call won, oldest first.

    Each UPDATE repeats the predicate, so of two concurrent callers only one wins a given row.
    `predicate` and `assignment` are this module's constants, never caller text.
    """
    with db.transaction() as cur:
        cur.execute(f"SELECT id FROM images WHERE {predicate} ORDER BY id LIMIT %(limit)s", params)
        candidates = [int(row["id"]) for row in cur.fetchall()]
    if dry_run:
        return candidates

    def move(image_id: int) -> bool:
        def update(cur: Any) -> bool:
            cur.execute(
                f"UPDATE images SET {assignment} WHERE id = %(id)s AND {predicate}",
                {**params, "id": image_id},
            )
            return bool(cur.rowcount == 1)

        # The predicate's subqueries read faces with shared locks, which can deadlock with a
        # processor writing that image's outcome; the conditional UPDATE is safe to repeat.
        return bool(db.run_transaction(update))

    return [image_id for image_id in candidates if move(image_id)]


# Clusters of unknown faces (kubeface/clustering.py). Only the clustering worker places faces
# and merges clusters; operators (through the receiver) ignore a cluster or take a face out.


def start_cluster(db: Database, face_id: int) -> int:
    """A new cluster holding only `face_id`; its id."""

    def write(cur: Cursor) -> int:
        cur.execute("INSERT INTO face_clusters () VALUES ()")
        cluster_id = int(cur.lastrowid)
        _place(cur, face_id, cluster_id)
        return cluster_id

    return db.run_transaction(write)


def join_cluster(db: Database, face_id: int, cluster_id: int, absorbed: Sequence[int]) -> None:
    """`face_id` joins `cluster_id`; the faces of the `absorbed` clusters move into it.

    The merged cluster stays hidden only if every cluster in it was ignored."""

    def write(cur: Cursor) -> None:
        if absorbed:
            cur.execute("UPDATE faces SET cluster_id = %s WHERE cluster_id IN %s", (cluster_id, absorbed))
            cur.execute("SELECT 1 FROM face_clusters WHERE id IN %s AND NOT ignored", (absorbed,))
            if cur.fetchone():
                cur.execute("UPDATE face_clusters SET ignored = 0 WHERE id = %s", (cluster_id,))
            cur.execute("DELETE FROM face_clusters WHERE id IN %s", (absorbed,))
        _place(cur, face_id, cluster_id)

    db.run_transaction(write)


def _place(cur: Cursor, face_id: int, cluster_id: int) -> None:
    cur.execute("UPDATE faces SET cluster_id = %s WHERE id = %s", (cluster_id, face_id))
    cur.execute("UPDATE face_encodings SET clustered = 1 WHERE face_id = %s", (face_id,))


def ignore_cluster(db: Database, cluster_id: int, *, actor: str) -> bool:
    """Hide a cluster from the "Unknown people" page; False when there is no such cluster."""
    with db.transaction() as cur:
        cur.execute("UPDATE face_clusters SET ignored = 1 WHERE id = %s", (cluster_id,))
        cur.execute("SELECT 1 FROM face_clusters WHERE id = %s", (cluster_id,))
        if cur.fetchone() is None:
            return False
        record(
            cur, actor=actor, action=AuditAction.CLUSTER_IGNORE, target=f"cluster:{cluster_id}", details={}
        )
    return True


def remove_face_from_cluster(db: Database, cluster_id: int, face_id: int, *, actor: str) -> bool:
    """Take a face out of its cluster for good: its encoding is erased, so it is never placed
    again. False when the face is not in that cluster."""
    with db.transaction() as cur:
        cur.execute(
            "UPDATE faces SET cluster_id = NULL WHERE id = %s AND cluster_id = %s", (face_id, cluster_id)
        )
        if cur.rowcount != 1:
            return False
        cur.execute("DELETE FROM face_encodings WHERE face_id = %s", (face_id,))
        record(
            cur,
            actor=actor,
            action=AuditAction.CLUSTER_REMOVE_FACE,
            target=f"cluster:{cluster_id}",
            details={"face_id": face_id},
        )
    return True


def mark_cluster_enrolled(
    db: Database, cluster_id: int, person_id: int, *, actor: str, details: Mapping[str, object]
) -> None:
    """Record that an operator enrolled the cluster as `person_id` (its images are re-queued)."""
    with db.transaction() as cur:
        cur.execute("UPDATE face_clusters SET person_id = %s WHERE id = %s", (person_id, cluster_id))
        record(
            cur,
            actor=actor,
            action=AuditAction.CLUSTER_ENROL,
            target=f"cluster:{cluster_id}",
            details={"person_id": person_id, **details},
        )
