"""The read side costs the same however many rows `images` holds (issue 15): every page's query,
/metrics, `kubeface status` and a retry pass read a bounded number of rows, counted by MariaDB's
own Handler_read_* counters (rows the server touched), not by a clock.

On a database of its own, filled like the bench's scale section fills one: bulk SQL, then
`kubeface.images.counts.recount`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

from bench.scale_fill import add_people, grow_images
from frontend import queries
from frontend.queries import ResultsFilter
from kubeface.db import Database
from kubeface.images import (
    ImageStatus,
    oldest_waiting,
    oldest_waiting_ages,
    recent_outcomes,
    recognised_counts,
    requeue_failed_due,
    requeue_pending_after_enrolment,
    requeue_stale_processing,
    requeue_stale_queued,
    status_counts,
)
from kubeface.images.counts import recount
from kubeface.images.face_flags import fill_face_flags
from kubeface.people import EnrolledImage, create_person
from tests.mysql_reads import rows_read

pytestmark = pytest.mark.mesh

ROWS = 20_000
# Rows one read may touch: a page or a batch and a few index probes each, whatever ROWS is.
BOUND = 1_000


def _fill(db: Database, person_id: int) -> None:
    """ROWS images shaped like a busy deployment's: mostly PROCESSED, some PENDING with a face,
    a few FAILED, QUEUED and PROCESSING; all finished or queued a day ago."""
    status = (
        "ELT(1 + seq % 100 DIV 1, " + ", ".join(["'PROCESSED'"] * 85 + ["'PENDING'"] * 10) + ","
        " 'FAILED', 'FAILED', 'FAILED', 'QUEUED', 'PROCESSING')"
    )
    with db.transaction() as cur:
        cur.execute(
            "INSERT INTO images (path, path_hash, status, person_id, attempts, queued_at, started_at,"
            " finished_at) SELECT CONCAT('2026/11/img_', seq, '.jpg'), UNHEX(SHA2(CONCAT('2026/11/img_', seq,"
            f" '.jpg'), 256)), {status}, NULL, 1, NOW(6) - INTERVAL 1 DAY, NOW(6) - INTERVAL 1 DAY,"
            f" NOW(6) - INTERVAL 1 DAY FROM seq_1_to_{ROWS}"
        )
        cur.execute("UPDATE images SET person_id = %s WHERE status = 'PROCESSED'", (person_id,))
        cur.execute("UPDATE images SET finished_at = NULL WHERE status IN ('QUEUED', 'PROCESSING')")
        cur.execute(
            "INSERT INTO faces (image_id, box_top, box_right, box_bottom, box_left, person_id)"
            " SELECT id, 0, 1, 1, 0, person_id FROM images WHERE status IN ('PROCESSED', 'PENDING')"
        )
        cur.execute("ANALYZE TABLE images, faces")
        cur.fetchall()
    recount(db)
    with db.connection() as conn:  # what migration 0010 does for rows written without the flag
        fill_face_flags(conn)


READS: dict[str, Callable[[Database], Any]] = {
    "status counts (page, /metrics, kubeface status)": status_counts,
    "oldest waiting (/metrics)": oldest_waiting_ages,
    "oldest waiting rows (kubeface status)": lambda db: oldest_waiting(db, 5),
    "recent outcomes (/system)": lambda db: recent_outcomes(db, 5),
    "people page": queries.people,
    "recognised counts (kubeface people list)": lambda db: recognised_counts(db, [1]),
    "results page": lambda db: queries.results_page(db, ResultsFilter(), 50),
    "results page, PENDING": lambda db: queries.results_page(db, ResultsFilter(ImageStatus.PENDING), 50),
    "results page, deep": lambda db: queries.results_page(db, ResultsFilter(before=ROWS // 2), 50),
    # A search reads its window of newest rows twice (walked, then aggregated; 300 here,
    # FRONTEND_SEARCH_WINDOW in production), then what the full-text index finds for its rarest word.
    "search a path": lambda db: queries.results_page(db, ResultsFilter(search="img_4242"), 50, 300),
    "search a word of paths": lambda db: queries.results_page(db, ResultsFilter(search="nothing"), 50, 300),
    "search a common word": lambda db: queries.results_page(db, ResultsFilter(search="2026 img"), 50, 300),
    "retry: failed": lambda db: requeue_failed_due(
        db, max_attempts=5, backoff_seconds=60, limit=100, dry_run=True
    ),
    "retry: stale processing": lambda db: requeue_stale_processing(
        db, lease_seconds=10**6, limit=100, dry_run=True
    ),
    "retry: stale queued": lambda db: requeue_stale_queued(db, lease_seconds=10**6, limit=100, dry_run=True),
    "retry: pending after enrolment": lambda db: requeue_pending_after_enrolment(db, limit=100, dry_run=True),
}


def test_reads_touch_a_bounded_number_of_rows(own_db):
    db = own_db(mysql_pool_size=1)
    person = create_person(db, "scale", [EnrolledImage("people/scale.jpg", np.zeros(128))]).person_id
    _fill(db, person)
    assert status_counts(db)["PROCESSED"] == ROWS * 85 // 100
    read = {name: rows_read(db, fn) for name, fn in READS.items()}
    print(read)  # noqa: T201 - the figures, for a reader of -s
    assert {name: n for name, n in read.items() if n > BOUND} == {}, read


RETRY_BATCH = 10
# Every FAILED, QUEUED, PROCESSING and PENDING row of the fill is due (hundreds of each), so a
# pass that found its batch by reading every due row would read far more than this: its batch,
# with an index probe or two per row (the faces a PENDING row has), and the latest enrolment.
RETRY_PASS_BOUND = 5 * RETRY_BATCH
RETRY_PASSES: dict[str, Callable[[Database], list[int]]] = {
    "failed": lambda db: requeue_failed_due(
        db, max_attempts=5, backoff_seconds=60, limit=RETRY_BATCH, dry_run=True
    ),
    "stale processing": lambda db: requeue_stale_processing(
        db, lease_seconds=60, limit=RETRY_BATCH, dry_run=True
    ),
    "stale queued": lambda db: requeue_stale_queued(db, lease_seconds=60, limit=RETRY_BATCH, dry_run=True),
    "pending after enrolment": lambda db: requeue_pending_after_enrolment(
        db, limit=RETRY_BATCH, dry_run=True
    ),
}


def test_a_retry_pass_reads_its_batch_not_every_due_row(own_db):
    """Issue 15: `kubeface retry` read and sorted every due FAILED row to pick its batch by id,
    seconds at a million rows."""
    db = own_db(mysql_pool_size=1)
    person = create_person(db, "scale", [EnrolledImage("people/scale.jpg", np.zeros(128))]).person_id
    _fill(db, person)
    read = {name: rows_read(db, requeue) for name, requeue in RETRY_PASSES.items()}
    print(read)  # noqa: T201 - the figures, for a reader of -s
    found = {name: requeue(db) for name, requeue in RETRY_PASSES.items()}  # dry runs: nothing moved
    assert {name: len(ids) for name, ids in found.items()} == dict.fromkeys(RETRY_PASSES, RETRY_BATCH)
    assert {name: n for name, n in read.items() if n > RETRY_PASS_BOUND} == {}, read


def test_a_pending_pass_reads_its_batch_or_nothing_whatever_the_table_holds(own_db):
    """On the bench's own fill (30% PENDING, a face on each PENDING and PROCESSED row, people
    enrolled before any row finished). Issue 15: a pass walked every PENDING row when nobody had
    been enrolled since (the latest enrolment, a subquery, did not bound the index range), and
    MariaDB made the EXISTS on faces a semi-join that read every face first (seconds at 1M rows)."""
    db = own_db(mysql_pool_size=1)
    with db.connection() as conn:
        grow_images(conn, 0, ROWS, add_people(conn, 10), 10)
    pending_pass = RETRY_PASSES["pending after enrolment"]
    nothing_due = rows_read(db, pending_pass)
    assert pending_pass(db) == []

    create_person(db, "enrolled-now", [EnrolledImage("people/now.jpg", np.zeros(128))])
    batch = rows_read(db, pending_pass)
    print({"nothing due": nothing_due, "batch": batch})  # noqa: T201 - the figures, for a reader of -s
    assert len(pending_pass(db)) == RETRY_BATCH
    assert nothing_due <= RETRY_PASS_BOUND and batch <= RETRY_PASS_BOUND, (nothing_due, batch)
