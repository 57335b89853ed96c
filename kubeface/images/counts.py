"""The counters of `images`: rows per status and images per recognised person, kept up to date in
the transaction of every write, so that pages, /metrics and `kubeface status` read a few small
rows instead of counting millions.

Each count is split over STRIPES rows (an image counts in stripe `id % STRIPES`) and read as their
sum: concurrent processors finishing different images rarely wait on the same counter row's lock.

Every transition in kubeface/images/ (transitions.py, relabel.py) wraps its UPDATEs in `counted`,
which reads the rows' status and person before and after under the rows' own lock and applies the
difference; `recount` rebuilds every counter from the rows (the 0009 migration's backfill, the
`kubeface recount` command, and the bench after a bulk fill).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

import pymysql

from kubeface.db import Cursor, Database
from kubeface.images.status import ImageStatus

# Changing it needs `kubeface recount` (and the 0008 migration's seed rows: 0..STRIPES-1).
STRIPES = 16

# (status, person_id) of one row; the counters' unit.
State = tuple[str, int | None]


def stripe_of(image_id: int) -> int:
    return image_id % STRIPES


def lock_states(cur: Cursor, image_ids: Iterable[int]) -> dict[int, State]:
    """The rows' status and person, locked for this transaction (a locking read sees the latest
    committed row, where a plain read would see this transaction's snapshot, maybe older)."""
    ids = sorted(set(image_ids))
    if not ids:
        return {}
    cur.execute("SELECT id, status, person_id FROM images WHERE id IN %s ORDER BY id FOR UPDATE", (ids,))
    return {int(row["id"]): (str(row["status"]), _person(row["person_id"])) for row in cur.fetchall()}


@contextmanager
def counted(cur: Cursor, image_ids: Sequence[int]) -> Iterator[None]:
    """Keep the counters right for whatever the block writes to these images, in its transaction.

    Only rows named in `image_ids` are counted: a block must not change other rows' status or person.
    """
    before = lock_states(cur, image_ids)
    yield
    apply_changes(cur, before, lock_states(cur, image_ids))


def count_inserted(cur: Cursor, image_ids: Iterable[int]) -> None:
    """New rows, all QUEUED with no person, in the INSERT's transaction."""
    apply_changes(cur, {}, {image_id: (ImageStatus.QUEUED.value, None) for image_id in image_ids})


def apply_changes(cur: Cursor, before: Mapping[int, State], after: Mapping[int, State]) -> None:
    """Move the counters from the `before` states of rows to their `after` states."""
    statuses: Counter[tuple[str, int]] = Counter()
    people: Counter[tuple[int, int]] = Counter()
    for image_id in before.keys() | after.keys():
        old, new = before.get(image_id), after.get(image_id)
        if old == new:
            continue
        stripe = stripe_of(image_id)
        for state, sign in ((old, -1), (new, 1)):
            if state is None:
                continue
            statuses[(state[0], stripe)] += sign
            if state[1] is not None:
                people[(state[1], stripe)] += sign
    # One statement per table (an ingest batch touches up to STRIPES rows), its rows sorted: two
    # transactions take the counter rows' locks in the same order, so never a cycle. (An UPDATE
    # that found no row, then an INSERT, took gap locks that two writers' first images of one
    # person deadlocked on.)
    _add(cur, "image_counts (status, stripe, n)", sorted((*k, d) for k, d in statuses.items() if d))
    _add(cur, "person_image_counts (person_id, stripe, n)", sorted((*k, d) for k, d in people.items() if d))


def _add(cur: Cursor, table: str, rows: Sequence[tuple[Any, int, int]]) -> None:
    """Add each row's n to its counter (`table`: one of this module's two), created at 0."""
    if rows:
        cur.execute(
            f"INSERT INTO {table} VALUES "
            + ",".join(["(%s, %s, %s)"] * len(rows))
            + " ON DUPLICATE KEY UPDATE n = n + VALUES(n)",
            [value for row in rows for value in row],
        )


def move_person_counts(cur: Cursor, person_id: int, into: int) -> None:
    """In a merge's transaction, after every image of `person_id` was relabelled `into`."""
    cur.execute(
        "SELECT stripe, n FROM person_image_counts WHERE person_id = %s ORDER BY stripe FOR UPDATE",
        (person_id,),
    )
    moved = [(into, int(row["stripe"]), int(row["n"])) for row in cur.fetchall()]
    _add(cur, "person_image_counts (person_id, stripe, n)", moved)
    cur.execute("DELETE FROM person_image_counts WHERE person_id = %s", (person_id,))


def _person(value: Any) -> int | None:
    return None if value is None else int(value)


def recount(target: Database | pymysql.connections.Connection[Any]) -> None:
    """Rebuild every counter from the rows. With a Database: in a transaction of its own; with a
    connection (a migration's): in the caller's transaction, which the caller commits.

    Writers keep going: the counter rows are locked first, so a transition that commits after
    the count's snapshot waits for the new values and then adds its own change to them.
    It reads every row once (a few seconds at 10M rows); writers wait that long.
    """
    if isinstance(target, Database):
        with target.connection() as conn:
            try:
                _recount(conn)
                conn.commit()
            except BaseException:
                conn.rollback()
                raise
    else:
        _recount(target)


def _recount(conn: pymysql.connections.Connection[Any]) -> None:
    with conn.cursor(pymysql.cursors.DictCursor) as cur:
        cur.execute("SELECT status, stripe FROM image_counts FOR UPDATE")
        cur.execute("SELECT person_id FROM person_image_counts FOR UPDATE")
        cur.execute(f"SELECT status, id % {STRIPES} AS stripe, COUNT(*) AS n FROM images GROUP BY 1, 2")
        statuses = [(int(row["n"]), str(row["status"]), int(row["stripe"])) for row in cur.fetchall()]
        cur.execute(
            f"SELECT person_id, id % {STRIPES} AS stripe, COUNT(*) AS n FROM images"
            " WHERE person_id IS NOT NULL GROUP BY 1, 2"
        )
        people = [(int(row["person_id"]), int(row["stripe"]), int(row["n"])) for row in cur.fetchall()]
        cur.executemany(
            "INSERT INTO image_counts (status, stripe, n) VALUES (%s, %s, 0) ON DUPLICATE KEY UPDATE n = 0",
            [(status.value, stripe) for status in ImageStatus for stripe in range(STRIPES)],
        )
        if statuses:
            cur.executemany("UPDATE image_counts SET n = %s WHERE status = %s AND stripe = %s", statuses)
        cur.execute("DELETE FROM person_image_counts")
        if people:
            cur.executemany(
                "INSERT INTO person_image_counts (person_id, stripe, n) VALUES (%s, %s, %s)", people
            )
