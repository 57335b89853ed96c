"""The retry job: give FAILED and stale rows back to the queue. Safe to run twice at once.

Each row is re-queued by a conditional UPDATE that repeats the selection's predicates, so of two
concurrent runs only one wins a given row, and only the winner publishes its id.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from kubeface.db import Database
from kubeface.queue import NsqPublisher

log = logging.getLogger(__name__)

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
PENDING_BEFORE_ENROLMENT = (
    "status = 'PENDING' AND finished_at < (SELECT MAX(created_at) FROM person_images)"
    " AND EXISTS (SELECT 1 FROM faces f WHERE f.image_id = images.id)"
)
BACK_TO_QUEUE = "status = 'QUEUED', claim_token = NULL, queued_at = NOW(6)"

_REQUEUE = {
    "failed": (_FAILED_DUE, BACK_TO_QUEUE),
    "stale_processing": (
        _PROCESSING_STALE,
        BACK_TO_QUEUE + ", detail = 'lease expired; re-queued'",
    ),
    "stale_queued": (_QUEUED_STALE, "queued_at = NOW(6)"),
    "pending_after_enrolment": (PENDING_BEFORE_ENROLMENT, BACK_TO_QUEUE),
}


@dataclass
class RetryReport:
    requeued: dict[str, list[int]] = field(default_factory=lambda: {kind: [] for kind in _REQUEUE})
    dry_run: bool = False

    @property
    def total(self) -> int:
        return sum(len(ids) for ids in self.requeued.values())


def run_retry(
    db: Database,
    publisher: NsqPublisher,
    *,
    max_attempts: int,
    backoff_seconds: float,
    lease_seconds: float,
    batch_size: int,
    dry_run: bool = False,
) -> RetryReport:
    """One pass: re-queue what is due and publish exactly the ids this run won."""
    params = {
        "max_attempts": max_attempts,
        "backoff_us": int(backoff_seconds * 1_000_000),
        "lease_us": int(lease_seconds * 1_000_000),
        "limit": batch_size,
    }
    report = RetryReport(dry_run=dry_run)
    for kind, (predicate, assignment) in _REQUEUE.items():
        report.requeued[kind] = requeue_where(db, predicate, assignment, params, dry_run=dry_run)
    won = [image_id for ids in report.requeued.values() for image_id in ids]
    if won and not dry_run:
        # If this fails the rows stay QUEUED and the next run re-publishes them after the lease.
        publisher.publish(won)
    for kind, ids in report.requeued.items():
        for image_id in ids:
            log.info("image re-queued", extra={"image_id": image_id, "reason": kind, "dry_run": dry_run})
    return report


def requeue_where(db: Database, predicate: str, assignment: str, params: dict, *, dry_run: bool) -> list[int]:
    """Move up to params["limit"] rows matching `predicate`; the ids this call won, oldest first.

    Each UPDATE repeats the predicate, so of two concurrent callers only one wins a given row.
    The caller publishes exactly the ids returned.
    """
    with db.transaction() as cur:
        cur.execute(f"SELECT id FROM images WHERE {predicate} ORDER BY id LIMIT %(limit)s", params)
        candidates = [row["id"] for row in cur.fetchall()]
    if dry_run:
        return candidates

    def move(image_id: int) -> bool:
        def update(cur) -> bool:
            cur.execute(
                f"UPDATE images SET {assignment} WHERE id = %(id)s AND {predicate}",
                {**params, "id": image_id},
            )
            return cur.rowcount == 1

        # The predicate's subqueries read faces with shared locks, which can deadlock with a
        # processor writing that image's outcome; the conditional UPDATE is safe to repeat.
        return db.run_transaction(update)

    return [image_id for image_id in candidates if move(image_id)]
