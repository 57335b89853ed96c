"""The re-queues: each moves rows back to QUEUED with one conditional UPDATE per chunk, and returns
exactly the ids it won, which the caller publishes. Of two concurrent callers only one wins a
given row: the chunk's rows are locked and the selection's predicate checked again on them.

Part of the one home of writes to `images` (with transitions.py and relabel.py).
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import partial
from typing import Any

from kubeface.audit import AuditEntry
from kubeface.db import Database
from kubeface.images.counts import counted
from kubeface.images.face_flags import fill_pending_face_flags
from kubeface.images.status import ImageStatus

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
BACK_TO_QUEUE = "status = 'QUEUED', claim_token = NULL, queued_at = NOW(6), has_faces = NULL"


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
        BACK_TO_QUEUE,
        params,
        dry_run=dry_run,
        order="attempts, finished_at",
        index="ix_images_status_attempts",
    )


def requeue_stale_processing(
    db: Database, *, lease_seconds: float, limit: int, dry_run: bool = False
) -> list[int]:
    """PROCESSING rows held past the lease: their processor died or hung."""
    assignment = BACK_TO_QUEUE + ", detail = 'lease expired; re-queued'"
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
        BACK_TO_QUEUE,
        params,
        dry_run=dry_run,
        audit=audit,
        order="finished_at",
        index="ix_images_status_faces_finished",
    )


def requeue_final_image(db: Database, image_id: int, audit: AuditEntry | None = None) -> list[int]:
    """One image back to QUEUED if it is final: [image_id] when this call won it, else []."""
    params = {"image_id": image_id, "limit": 1}
    return _requeue_where(db, _FINAL_IMAGE, BACK_TO_QUEUE, params, dry_run=False, audit=audit)


def requeue_with_status(
    db: Database, status: ImageStatus, *, limit: int, audit: AuditEntry | None = None
) -> list[int]:
    """Up to `limit` final rows of `status` back to QUEUED, oldest first."""
    if not status.is_final:
        raise ValueError(f"only final images can be re-queued, not {status.value}")
    params = {"status": status.value, "limit": limit}
    return _requeue_where(db, _WITH_STATUS, BACK_TO_QUEUE, params, dry_run=False, audit=audit)


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

    `predicate` and `assignment` are this module's constants, never caller text. `audit`: one
    record per call listing the ids won (`image_ids`), in the last chunk's transaction when that
    chunk won a row (always so for one image), else in a transaction of its own right after; a
    call that won nothing records nothing.
    """
    with db.transaction() as cur:
        hint = f" FORCE INDEX ({index})" if index else ""
        cur.execute(f"SELECT id FROM images{hint} WHERE {predicate} ORDER BY {order} LIMIT %(limit)s", params)
        candidates = [int(row["id"]) for row in cur.fetchall()]
    if dry_run:
        return candidates
    won: set[int] = set()
    recorded = False
    chunks = [candidates[at : at + _MOVE_CHUNK] for at in range(0, len(candidates), _MOVE_CHUNK)]
    for position, chunk in enumerate(chunks):
        last = position == len(chunks) - 1
        record = audit if last else None  # the last chunk's transaction records every id won
        move = partial(
            _move_chunk,
            chunk=chunk,
            predicate=predicate,
            assignment=assignment,
            params=params,
            audit=record,
            candidates=candidates,
            won_before=frozenset(won),
        )
        winners = db.run_transaction(move)
        won |= winners
        recorded = last and bool(winners)
    ordered = [image_id for image_id in candidates if image_id in won]
    if audit is not None and ordered and not recorded:
        with db.transaction() as cur:
            audit.record(cur, image_ids=ordered)
    return ordered


def _move_chunk(
    cur: Any,
    *,
    chunk: list[int],
    predicate: str,
    assignment: str,
    params: Mapping[str, Any],
    audit: AuditEntry | None,
    candidates: list[int],
    won_before: frozenset[int],
) -> set[int]:
    """In one transaction (run again whole after a deadlock: safe to repeat), the chunk's rows
    that still match, locked and then moved; `audit`, when given, records every id won so far."""
    # The FOR UPDATE locks only `images` rows, in id order along the primary key, and checks the
    # predicate on the rows as locked (the latest committed: `has_faces` too). No predicate reads
    # `faces`: a subquery there took shared locks that could deadlock with a processor writing
    # that image's outcome. (Row by row, a full pass took a transaction per row: seconds.)
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
    if audit is not None:
        audit.record(cur, image_ids=[i for i in candidates if i in won_before or i in winners])
    return winners
