"""The audit log is written in the writer's transaction: it never disagrees with the data."""

from __future__ import annotations

import pytest

from kubeface.audit import AuditAction, read_records, record
from kubeface.db import Database
from tests.photos import unique_name

pytestmark = pytest.mark.mesh


@pytest.fixture
def db(mesh):
    database = Database(mesh.settings())
    yield database
    database.close()


def test_a_record_is_read_back_newest_first_and_filtered(db):
    target = unique_name("person")
    with db.transaction() as cur:
        record(cur, actor="alice", action=AuditAction.RENAME, target=target, details={"from": "a", "to": "b"})
    with db.transaction() as cur:
        record(cur, actor="bob", action=AuditAction.ERASE, target=target, details={"photos": 2})
    records = read_records(db, target=target)
    assert [(r.actor, r.action, r.details) for r in records] == [
        ("bob", "erase", {"photos": 2}),
        ("alice", "rename", {"from": "a", "to": "b"}),
    ]
    assert [r.actor for r in read_records(db, target=target, actor="alice")] == ["alice"]
    assert read_records(db, target=target, before_id=records[1].id) == []


def test_a_write_that_rolls_back_leaves_no_record(db):
    target = unique_name("person")
    with pytest.raises(RuntimeError), db.transaction() as cur:
        record(cur, actor="alice", action=AuditAction.MERGE, target=target, details={})
        raise RuntimeError("the write failed after its record")
    assert read_records(db, target=target) == []
