"""How many rows MariaDB read for a piece of work: a cost that a test can bound without timing it."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from kubeface.db import Database

_HANDLER_READS = (
    "Handler_read_first",
    "Handler_read_key",
    "Handler_read_last",
    "Handler_read_next",
    "Handler_read_prev",
    "Handler_read_rnd",
    "Handler_read_rnd_next",
)


def _handler_reads(db: Database) -> int:
    with db.transaction() as cur:
        cur.execute("SHOW SESSION STATUS WHERE Variable_name IN %s", (_HANDLER_READS,))
        return sum(int(row["Value"]) for row in cur.fetchall())


def rows_read(db: Database, read: Callable[[Database], Any]) -> int:
    """Rows the server read for `read(db)`; `db` has one connection, so its session is read's."""
    before = _handler_reads(db)
    read(db)
    middle = _handler_reads(db)
    return (middle - before) - (_handler_reads(db) - middle)  # less the status query's own reads
