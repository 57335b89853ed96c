"""`images.has_faces` (migration 0010) for rows whose outcome did not write it.

`complete_image` (transitions.py) writes it with the outcome's faces, in one transaction. It is
NULL ("not known") on a row that has no outcome yet, on a row finished before 0010, and on a row
that a processor of an older version finished during a rolling upgrade (it writes faces, not this
column). Here the flag is filled from `faces` for such rows: all of them once, by 0010's backfill;
and the PENDING ones a retry pass meets, a batch per pass, so that an older processor's outcome
still counts for the re-identification after an enrolment (requeues.requeue_pending_after_enrolment).
"""

from __future__ import annotations

from typing import Any

import pymysql

from kubeface.db import Cursor, Database

# Rows per transaction of the backfill: each locks its rows for a few tens of milliseconds.
BACKFILL_CHUNK = 5_000


def fill_face_flags(conn: pymysql.connections.Connection[Any]) -> int:
    """Fill the flag of every finished row that lacks it, BACKFILL_CHUNK ids per transaction
    (committed each: never one 10M-row transaction); the rows filled. Migration 0010's backfill."""
    conn.commit()  # from here on, each chunk is a transaction of its own
    filled = 0
    with conn.cursor(pymysql.cursors.DictCursor) as cur:
        cur.execute("SELECT COALESCE(MAX(id), 0) AS top FROM images")
        row = cur.fetchone()
        top = int(row["top"]) if row else 0
        conn.commit()
        for first in range(1, top + 1, BACKFILL_CHUNK):
            filled += _fill(
                cur,
                "images FORCE INDEX (PRIMARY) WHERE id BETWEEN %(first)s AND %(last)s"
                " AND status IN ('PROCESSED', 'PENDING', 'FAILED') AND has_faces IS NULL",
                {"first": first, "last": first + BACKFILL_CHUNK - 1},
            )
            conn.commit()
    return filled


def fill_pending_face_flags(db: Database, limit: int) -> int:
    """Fill the flag of up to `limit` PENDING rows that lack it; the rows filled.

    Along the index the pending pass walks (its NULL end), so a pass with nothing to fill reads
    one index entry; a filled row leaves the range for good.
    """
    return int(
        db.run_transaction(
            lambda cur: _fill(
                cur,
                "images FORCE INDEX (ix_images_status_faces_finished)"
                " WHERE status = 'PENDING' AND has_faces IS NULL LIMIT %(limit)s",
                {"limit": limit},
            )
        )
    )


def _fill(cur: Cursor, rows: str, params: dict[str, Any]) -> int:
    """Fill the flag of the rows `rows` (a FROM ... WHERE of this module's) names, from `faces`.

    The rows are locked first and `faces` read after, in that order: a row's faces change only
    in its outcome's transaction, which holds the row's lock, so the plain read of `faces`
    (its snapshot taken now, after the locks) sees the faces of the row as locked. It takes no
    locks on `faces`, which could deadlock with a processor inserting another image's faces.
    """
    cur.execute(f"SELECT id FROM {rows} FOR UPDATE", params)
    ids = sorted(int(row["id"]) for row in cur.fetchall())
    if not ids:
        return 0
    cur.execute("SELECT DISTINCT image_id FROM faces WHERE image_id IN %s", (ids,))
    with_faces = {int(row["image_id"]) for row in cur.fetchall()}
    for flag, flagged in ((1, sorted(with_faces)), (0, [i for i in ids if i not in with_faces])):
        if flagged:
            cur.execute("UPDATE images SET has_faces = %s WHERE id IN %s", (flag, flagged))
    return len(ids)
