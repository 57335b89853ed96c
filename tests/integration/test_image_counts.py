"""The counters of `images` (kubeface/images/counts.py) against the rows, on real MariaDB, under
concurrent writers; and the read side's cost, which must not grow with the table (issue 15).

Each test migrates a database of its own: the counters are compared with a GROUP BY over every
row, which other tests' rows (and their raw SQL) must not disturb.
"""

from __future__ import annotations

import json
import random
import threading
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pymysql
import pytest

from kubeface.audit import AuditAction, AuditEntry
from kubeface.db import Database
from kubeface.images import (
    FINAL_STATUSES,
    ImageStatus,
    claim_image,
    complete_image,
    insert_images,
    recognised_counts,
    release_claim,
    requeue_failed_due,
    requeue_final_image,
    requeue_stale_processing,
    requeue_with_status,
    status_counts,
)
from kubeface.images.counts import recount
from kubeface.people import EnrolledImage, create_person, erase_person, merge_people
from tests.upgrades import upgrade_across

pytestmark = pytest.mark.mesh

# What a concurrent transition may meet and the workload shrugs off: a deadlock or lock wait
# (rolled back whole), a person erased or merged away between choosing and writing (1452).
EXPECTED_ERRORS = {1213, 1205, 1452}


def _rows(db: Database) -> tuple[dict[str, int], dict[int, int]]:
    """Statuses and recognised images counted from the rows themselves."""
    with db.transaction() as cur:
        cur.execute("SELECT status, COUNT(*) AS n FROM images GROUP BY status")
        found = {row["status"]: int(row["n"]) for row in cur.fetchall()}
        cur.execute("SELECT id FROM person")
        people = [int(row["id"]) for row in cur.fetchall()]
        cur.execute("SELECT person_id, COUNT(*) AS n FROM images WHERE person_id IS NOT NULL GROUP BY 1")
        named = {int(row["person_id"]): int(row["n"]) for row in cur.fetchall()}
    return {s.value: found.get(s.value, 0) for s in ImageStatus}, {p: named.get(p, 0) for p in people}


def _counters(db: Database) -> tuple[dict[str, int], dict[int, int]]:
    people = list(_rows(db)[1])
    return status_counts(db), recognised_counts(db, people)


def _person(db: Database, name: str) -> int:
    return create_person(db, name, [EnrolledImage(f"people/{name}.jpg", np.zeros(128))]).person_id


class Workload:
    """Random real transitions on a few images, from several threads at once."""

    def __init__(self, db: Database, image_ids: list[int], people: list[int], seed: int) -> None:
        self.db, self.image_ids, self.people = db, image_ids, people
        self.random = random.Random(seed)
        self.errors: list[BaseException] = []
        self.rolled_back = 0  # transitions MySQL rolled back (EXPECTED_ERRORS): nothing written

    def step(self) -> None:
        db, image_id = self.db, self.random.choice(self.image_ids)
        action = self.random.randrange(6)
        if action <= 2:
            claim = claim_image(db, image_id, lease_seconds=3600)
            if claim is None:
                return
            if action == 2:
                release_claim(db, claim, "transient", count_attempt=True)
                return
            status = self.random.choice(list(FINAL_STATUSES))
            person = self.random.choice(self.people) if status is ImageStatus.PROCESSED else None
            complete_image(db, claim, status, person_id=person, detail="x")
        elif action == 3:
            requeue_final_image(db, image_id)
        elif action == 4:
            requeue_with_status(db, self.random.choice(list(FINAL_STATUSES)), limit=3)
        else:
            requeue_failed_due(db, max_attempts=1000, backoff_seconds=0, limit=3)
            requeue_stale_processing(db, lease_seconds=0, limit=2)

    def run(self, steps: int) -> None:
        for _ in range(steps):
            try:
                self.step()
            except pymysql.err.MySQLError as exc:
                if exc.args[0] not in EXPECTED_ERRORS:
                    self.errors.append(exc)
                self.rolled_back += 1
            except BaseException as exc:
                self.errors.append(exc)


def test_counters_equal_the_rows_after_concurrent_transitions(own_db):
    db = own_db(mysql_pool_size=12)
    people = [_person(db, name) for name in ("ann", "bob", "cy", "dee")]
    image_ids = [p.image_id for p in insert_images(db, [f"counts/{i}.jpg" for i in range(60)])]
    workers = [Workload(db, image_ids, people, seed) for seed in range(6)]
    threads = [threading.Thread(target=w.run, args=(80,)) for w in workers]
    for thread in threads:
        thread.start()
    # Operators change people meanwhile: their images move to another name, or to none.
    merge_people(db, people[0], people[1], actor="test")
    erase_person(db, people[2], actor="test")
    for thread in threads:
        thread.join()
    assert [e for w in workers for e in w.errors] == []
    print("rolled back:", sum(w.rolled_back for w in workers), "of", 6 * 80)  # noqa: T201

    statuses, named = _rows(db)
    assert sum(statuses.values()) == 60
    assert _counters(db) == (statuses, named)


def test_recount_rebuilds_counters_while_writers_write(own_db):
    db = own_db(mysql_pool_size=8)
    people = [_person(db, name) for name in ("eve", "fay")]
    image_ids = [p.image_id for p in insert_images(db, [f"recount/{i}.jpg" for i in range(40)])]
    with db.transaction() as cur:  # counters gone wrong: say, rows written by bulk SQL
        cur.execute("UPDATE image_counts SET n = n + 7")
        cur.execute("DELETE FROM person_image_counts")
    workers = [Workload(db, image_ids, people, seed) for seed in range(3)]
    threads = [threading.Thread(target=w.run, args=(60,)) for w in workers]
    for thread in threads:
        thread.start()
    recount(db)
    for thread in threads:
        thread.join()
    assert [e for w in workers for e in w.errors] == []
    assert _counters(db) == _rows(db)


def test_the_upgrade_fills_the_counters_from_the_rows_already_there(mesh, empty_database, tmp_path):
    """A deployment with images before migration 0008: after `kubeface migrate` the page's counts
    are the rows', not zeros."""
    old = empty_database

    def older_release_rows() -> None:
        mesh.sql(f"INSERT INTO {old}.person (name) VALUES ('old')")
        mesh.sql(
            f"INSERT INTO {old}.images (path, path_hash, status, person_id)"
            " SELECT CONCAT('old/', seq), UNHEX(SHA2(seq, 256)),"
            " ELT(1 + seq % 3, 'PROCESSED', 'PENDING', 'QUEUED'),"
            f" IF(seq % 3 = 0, (SELECT id FROM {old}.person WHERE name = 'old'), NULL)"
            " FROM seq_1_to_300"
        )

    upgrade_across(mesh, empty_database, "0008", tmp_path, older_release_rows)
    db = Database(mesh.settings(mysql_database=empty_database))
    try:
        assert _counters(db) == _rows(db)
        assert status_counts(db) == {
            "QUEUED": 100,
            "PROCESSING": 0,
            "PROCESSED": 100,
            "PENDING": 100,
            "FAILED": 0,
        }
    finally:
        db.close()


def test_two_passes_at_once_over_many_rows_move_each_row_once_and_record_it_once(own_db):
    """A pass larger than a transaction's chunk (issue 15: a full pass of 1,000 rows per kind)."""
    db = own_db(mysql_pool_size=6)
    image_ids = sorted(p.image_id for p in insert_images(db, [f"many/{i}.jpg" for i in range(700)]))
    with db.transaction() as cur:  # failed once, an hour ago: due at once with no backoff
        cur.execute(
            "UPDATE images SET status = 'FAILED', attempts = 1, finished_at = NOW(6) - INTERVAL 1 HOUR"
        )
    recount(db)
    with ThreadPoolExecutor(2) as pool:
        passes = list(
            pool.map(
                lambda _: requeue_failed_due(db, max_attempts=5, backoff_seconds=0, limit=1000), range(2)
            )
        )
    assert sorted(passes[0] + passes[1]) == image_ids  # every row once: no row lost, none twice
    assert _rows(db)[0]["QUEUED"] == 700
    assert _counters(db) == _rows(db)

    with db.transaction() as cur:
        cur.execute("UPDATE images SET status = 'FAILED', finished_at = NOW(6)")
    recount(db)
    entry = AuditEntry(actor="ops", action=AuditAction.REQUEUE, target="images:FAILED")
    won = requeue_with_status(db, ImageStatus.FAILED, limit=1000, audit=entry)
    assert won == image_ids  # oldest first
    with db.transaction() as cur:
        cur.execute("SELECT details FROM audit_log WHERE target = 'images:FAILED'")
        records = [json.loads(row["details"]) for row in cur.fetchall()]
    assert [r["image_ids"] for r in records] == [image_ids]
