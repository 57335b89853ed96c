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

from kubeface.audit import AuditEntry
from kubeface.db import Database
from kubeface.images.counts import count_inserted, counted
from kubeface.images.face_flags import fill_pending_face_flags
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


# FAILED rows below the attempt limit whose backoff (base * 2^(attempts-1)) has passed.
_FAILED_DUE = (
    "status = 'FAILED' AND attempts < %(max_attempts)s"
    " AND finished_at < NOW(6) - INTERVAL (%(backoff_us)s * POW(2, GREATEST(attempts, 1) - 1)) MICROSECOND"
)
# Claimed by a processor that has held it past the lease: it died or hung.
_PROCESSING_STALE = "status = 'PROCESSING' AND started_at < NOW(6) - INTERVAL %(lease_us)s MICROSECOND"
# Queued long ago and never claimed: its message was lost (say, the receiver died before publishing).
_QUEUED_STALE = "status = 'QUEUED' AND queued_at < NOW(6) - INTERVAL %(lease_us)s MICROSECOND"
# PENDING with faces, finished before the latest enrolment (read first, so that it bounds the
# index range: as a subquery it did not, and a pass with nothing due walked every PENDING row):
# the new person may be in them. Faces by the row's own flag (migration 0010), not a look-up in
# `faces`: rows with no face stayed in the range for good and every pass read them all again.
_PENDING_BEFORE_ENROLMENT = "status = 'PENDING' AND has_faces = 1 AND finished_at < %(enrolled_at)s"
_FINAL_IMAGE = "status IN ('PROCESSED', 'PENDING', 'FAILED') AND id = %(image_id)s"
_WITH_STATUS = "status = %(status)s"
# has_faces back to "not known" (NULL) with the outcome it described: a processor of the release
# before 0010 writes the next outcome without it, and a stale 0 (a failed attempt) would hide that
# outcome's faces from the pass after an enrolment for good (face_flags.py fills only NULLs).
_BACK_TO_QUEUE = "status = 'QUEUED', claim_token = NULL, queued_at = NOW(6), has_faces = NULL"


# Rows a re-queue moves per transaction: a full retry pass of 1,000 rows per kind is a few
# transactions, not thousands, and each holds its locks for a few milliseconds.
_MOVE_CHUNK = 250


def _micros(seconds: float) -> int:
    return int(seconds * 1_000_000)


def requeue_failed_due(
    db: Database, *, max_attempts: int, backoff_seconds: float, limit: int, dry_run: bool = False
) -> list[int]:
    """FAILED rows below `max_attempts` whose exponential backoff has passed."""
    params = {"max_attempts": max_attempts, "backoff_us": _micros(backoff_seconds), "limit": limit}
    # Only the rows below the limit (migration 0008), not every FAILED row: those that used up
    # their attempts stay FAILED for good and grow with the table. Fewest attempts, then oldest
    # failure first: the index's own order, so a pass stops after its batch; by id, every due
    # row was read and sorted first (issue 15: a 5% FAILED table took seconds).
    return _requeue_where(
        db,
        _FAILED_DUE,
        _BACK_TO_QUEUE,
        params,
        dry_run=dry_run,
        order="attempts, finished_at",
        index="ix_images_status_attempts",
    )


def requeue_stale_processing(
    db: Database, *, lease_seconds: float, limit: int, dry_run: bool = False
) -> list[int]:
    """PROCESSING rows held past the lease: their processor died or hung."""
    assignment = _BACK_TO_QUEUE + ", detail = 'lease expired; re-queued'"
    params = {"lease_us": _micros(lease_seconds), "limit": limit}
    # Longest held first, along its index: a pass reads its batch, not every stale row.
    return _requeue_where(
        db,
        _PROCESSING_STALE,
        assignment,
        params,
        dry_run=dry_run,
        order="started_at",
        index="ix_images_status_started",
    )


def requeue_stale_queued(
    db: Database, *, lease_seconds: float, limit: int, dry_run: bool = False
) -> list[int]:
    """QUEUED rows never claimed within the lease: their message was lost; the caller re-publishes."""
    params = {"lease_us": _micros(lease_seconds), "limit": limit}
    # Longest waiting first, along its index: a pass reads its batch, not every stale row.
    return _requeue_where(
        db,
        _QUEUED_STALE,
        "queued_at = NOW(6)",
        params,
        dry_run=dry_run,
        order="queued_at",
        index="ix_images_status_queued",
    )


def requeue_pending_after_enrolment(
    db: Database, *, limit: int, dry_run: bool = False, audit: AuditEntry | None = None
) -> list[int]:
    """PENDING rows with faces, finished before the latest enrolment.

    First the flag of up to `limit` PENDING rows an older version finished is filled (not in a
    dry run, which writes nothing): see kubeface/images/face_flags.py.
    """
    with db.transaction() as cur:
        # One entry of ix_person_images_created (0010): without it, the whole gallery was read.
        cur.execute("SELECT MAX(created_at) AS enrolled_at FROM person_images")
        row = cur.fetchone()
    if row is None or row["enrolled_at"] is None:
        return []  # nobody enrolled: no image can match anyone new
    if not dry_run:
        fill_pending_face_flags(db, limit)
    params = {"limit": limit, "enrolled_at": row["enrolled_at"]}
    # Oldest finished first, along (status, has_faces, finished_at): the rows re-identified since
    # the enrolment leave the range and rows with no face were never in it, so a pass reads its
    # batch, not every PENDING row.
    return _requeue_where(
        db,
        _PENDING_BEFORE_ENROLMENT,
        _BACK_TO_QUEUE,
        params,
        dry_run=dry_run,
        audit=audit,
        order="finished_at",
        index="ix_images_status_faces_finished",
    )


def requeue_final_image(db: Database, image_id: int, audit: AuditEntry | None = None) -> list[int]:
    """One image back to QUEUED if it is final: [image_id] when this call won it, else []."""
    params = {"image_id": image_id, "limit": 1}
    return _requeue_where(db, _FINAL_IMAGE, _BACK_TO_QUEUE, params, dry_run=False, audit=audit)


def requeue_with_status(
    db: Database, status: ImageStatus, *, limit: int, audit: AuditEntry | None = None
) -> list[int]:
    """Up to `limit` final rows of `status` back to QUEUED, oldest first."""
    if not status.is_final:
        raise ValueError(f"only final images can be re-queued, not {status.value}")
    params = {"status": status.value, "limit": limit}
    return _requeue_where(db, _WITH_STATUS, _BACK_TO_QUEUE, params, dry_run=False, audit=audit)


def _requeue_where(
    db: Database,
    predicate: str,
    assignment: str,
    params: Mapping[str, Any],
    *,
    dry_run: bool,
    audit: AuditEntry | None = None,
    order: str = "id",
    index: str | None = None,
) -> list[int]:
    """Move up to params["limit"] rows matching `predicate`; the ids this call won, oldest first
    (by `order`: a column of this module's choosing), found through `index` when given.

    Rows move in chunks of _MOVE_CHUNK, a transaction each: the chunk's rows that still match are
    locked, then updated, so of two concurrent callers only one wins a given row. `predicate` and
    `assignment` are this module's constants, never caller text.

    `audit`: one record per call listing the ids won (`image_ids`), in the last chunk's transaction
    when that chunk won a row (always so for one image), else in a transaction of its own right
    after; a call that won nothing records nothing.
    """
    with db.transaction() as cur:
        hint = f" FORCE INDEX ({index})" if index else ""
        cur.execute(f"SELECT id FROM images{hint} WHERE {predicate} ORDER BY {order} LIMIT %(limit)s", params)
        candidates = [int(row["id"]) for row in cur.fetchall()]
    if dry_run:
        return candidates

    won: set[int] = set()

    def move(chunk: list[int], last: bool) -> set[int]:
        def update(cur: Any) -> set[int]:
            # The FOR UPDATE locks only `images` rows, in id order along the primary key, and
            # re-checks the predicate on the rows as locked (the latest committed: `has_faces`
            # too). No predicate reads `faces`: a subquery there took shared locks that could
            # deadlock with a processor writing that image's outcome. (Row by row, a full pass
            # took a transaction per row: seconds.)
            cur.execute(
                f"SELECT id FROM images FORCE INDEX (PRIMARY) WHERE id IN %(chunk)s AND {predicate}"
                " ORDER BY id FOR UPDATE",
                {**params, "chunk": sorted(chunk)},
            )
            winners = {int(row["id"]) for row in cur.fetchall()}
            if not winners:
                return winners
            with counted(cur, sorted(winners)):
                cur.execute(f"UPDATE images SET {assignment} WHERE id IN %(ids)s", {"ids": sorted(winners)})
            if last and audit is not None:
                audit.record(cur, image_ids=[i for i in candidates if i in won or i in winners])
            return winners

        # A deadlock or lock timeout rolls the chunk back whole; it is safe to run again.
        return db.run_transaction(update)

    chunks = [candidates[at : at + _MOVE_CHUNK] for at in range(0, len(candidates), _MOVE_CHUNK)]
    recorded = False
    for position, chunk in enumerate(chunks):
        last = position == len(chunks) - 1
        winners = move(chunk, last)
        won |= winners
        recorded = last and bool(winners)
    ordered = [image_id for image_id in candidates if image_id in won]
    if audit is not None and ordered and not recorded:
        with db.transaction() as cur:
            audit.record(cur, image_ids=ordered)
    return ordered
