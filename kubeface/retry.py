"""The retry job: give FAILED and stale rows back to the queue. Safe to run twice at once.

Each kind of re-queue is a named transition in kubeface.images; of two concurrent runs only one
wins a given row, and only the winner publishes its id.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from kubeface.audit import RETRY_ACTOR, AuditAction, record
from kubeface.db import Database
from kubeface.images import (
    requeue_failed_due,
    requeue_pending_after_enrolment,
    requeue_stale_processing,
    requeue_stale_queued,
)

if TYPE_CHECKING:
    from kubeface.queue import NsqPublisher

log = logging.getLogger(__name__)

KINDS = ("failed", "stale_processing", "stale_queued", "pending_after_enrolment")


@dataclass
class RetryReport:
    requeued: dict[str, list[int]] = field(default_factory=lambda: {kind: [] for kind in KINDS})
    dry_run: bool = False

    @property
    def total(self) -> int:
        return sum(len(ids) for ids in self.requeued.values())


def run_retry(
    db: Database,
    publisher: NsqPublisher | None,
    *,
    max_attempts: int,
    backoff_seconds: float,
    lease_seconds: float,
    batch_size: int,
    dry_run: bool = False,
) -> RetryReport:
    """One pass: re-queue what is due and publish exactly the ids this run won.

    `publisher` may be None only for a dry run, which publishes nothing.
    """
    if publisher is None and not dry_run:
        raise ValueError("a retry pass that moves rows needs a publisher for their ids")
    passes: dict[str, Callable[[], list[int]]] = {
        "failed": lambda: requeue_failed_due(
            db, max_attempts=max_attempts, backoff_seconds=backoff_seconds, limit=batch_size, dry_run=dry_run
        ),
        "stale_processing": lambda: requeue_stale_processing(
            db, lease_seconds=lease_seconds, limit=batch_size, dry_run=dry_run
        ),
        "stale_queued": lambda: requeue_stale_queued(
            db, lease_seconds=lease_seconds, limit=batch_size, dry_run=dry_run
        ),
        "pending_after_enrolment": lambda: requeue_pending_after_enrolment(
            db, limit=batch_size, dry_run=dry_run
        ),
    }
    report = RetryReport(dry_run=dry_run)
    for kind, requeue in passes.items():
        report.requeued[kind] = requeue()
    won = [image_id for ids in report.requeued.values() for image_id in ids]
    if won and publisher is not None and not dry_run:
        _record_pass(db, report)
        # If this fails the rows stay QUEUED and the next run re-publishes them after the lease.
        publisher.publish(won)
    if dry_run:
        # Nothing moved, so no image has an event to log; the ids are the command's output. A line
        # per id took longer than the pass's queries (issue 15: 4,000 lines for full batches).
        counts = {kind: len(ids) for kind, ids in report.requeued.items()}
        log.info("retry dry run", extra={"would_requeue": counts, "dry_run": True})
        return report
    # One line per kind that moved rows, naming each image: a line per image was a quarter of a
    # full pass (4,000 lines), as a line per post was of the receiver's ingest.
    for kind, ids in report.requeued.items():
        if ids:
            log.info("images re-queued", extra={"reason": kind, "count": len(ids), "image_ids": ids})
    return report


def _record_pass(db: Database, report: RetryReport) -> None:
    """One audit record per pass that re-queued something; an empty pass, every minute from cron,
    would flood the log with records that say nothing.

    Its own transaction: rows move in transactions of 250 (kubeface/images/requeues.py),
    so no one transaction holds the pass's writes; if the job dies before this, rows moved unrecorded.
    """
    details = {
        "counts": {kind: len(ids) for kind, ids in report.requeued.items()},
        "image_ids": {kind: ids for kind, ids in report.requeued.items() if ids},
    }
    with db.transaction() as cur:
        record(cur, actor=RETRY_ACTOR, action=AuditAction.RETRY_PASS, target="images", details=details)
