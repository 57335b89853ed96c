"""A transaction MySQL rolled back for a deadlock is run again; other errors are not."""

from __future__ import annotations

from contextlib import contextmanager

import pymysql
import pytest

from kubeface.db import Database


class _RolledBack(Database):
    """A database whose first transactions fail with the given MySQL errors (a fake: unit test)."""

    def __init__(self, *errors: int) -> None:  # no pool: nothing connects
        self.errors = list(errors)
        self.runs = 0

    @contextmanager
    def transaction(self):
        self.runs += 1
        if self.errors:
            raise pymysql.err.OperationalError(self.errors.pop(0), "rolled back")
        yield "cursor"


def test_a_deadlock_victim_is_run_again():
    db = _RolledBack(1213, 1205)
    assert db.run_transaction(lambda cur: f"done with {cur}") == "done with cursor"
    assert db.runs == 3


def test_it_gives_up_after_its_attempts():
    db = _RolledBack(1213, 1213, 1213)
    with pytest.raises(pymysql.err.OperationalError, match="rolled back"):
        db.run_transaction(lambda cur: cur)
    assert db.runs == 3


def test_other_errors_are_not_retried():
    db = _RolledBack(2013)  # lost connection: the caller decides
    with pytest.raises(pymysql.err.OperationalError):
        db.run_transaction(lambda cur: cur)
    assert db.runs == 1
