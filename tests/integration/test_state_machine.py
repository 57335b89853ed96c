"""The images state machine, driven at random by several competing workers, on real MariaDB."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from kubeface.db import Database
from kubeface.images import (
    FaceRecord,
    ImageStatus,
    claim_image,
    complete_image,
    get_status,
    insert_images,
    release_claim,
)

pytestmark = pytest.mark.mesh

_serial = itertools.count()
WORKERS = ("w1", "w2", "w3")


@pytest.fixture(scope="module")
def database(mesh):
    db = Database(mesh.settings())
    yield db
    db.close()


def test_competing_workers_never_both_finish_an_image(database):
    class ImageRow(RuleBasedStateMachine):
        def __init__(self) -> None:
            super().__init__()
            self.image_id = insert_images(database, [f"state-machine/{next(_serial)}.jpg"])[0].image_id
            self.claims: dict[str, object] = {}
            self.spent: list[object] = []  # claims released or used: they must never work again
            self.finished_by: list[str] = []
            self.status = ImageStatus.QUEUED

        @rule(worker=st.sampled_from(WORKERS))
        def claim(self, worker):
            claim = claim_image(database, self.image_id, lease_seconds=3600)
            if self.status is ImageStatus.QUEUED:
                assert claim is not None, "a QUEUED row must be claimable"
                self.claims = {worker: claim}
                self.status = ImageStatus.PROCESSING
            else:
                assert claim is None, f"claimed a {self.status} row"

        @precondition(lambda self: self.claims)
        @rule(
            worker=st.sampled_from(WORKERS),
            outcome=st.sampled_from([ImageStatus.PROCESSED, ImageStatus.PENDING, ImageStatus.FAILED]),
        )
        def complete(self, worker, outcome):
            holder, claim = next(iter(self.claims.items()))
            faces = [FaceRecord(1, 2, 3, 0, None, None, 0.9)]
            written = complete_image(database, claim, outcome, detail="x", faces=faces)
            if self.status is ImageStatus.PROCESSING:
                assert written
                self.finished_by.append(holder)
                self.status = outcome
                self.claims = {}
                self.spent.append(claim)
            else:
                assert not written, "a claim was used twice"

        @precondition(lambda self: self.claims)
        @rule(count=st.booleans())
        def release(self, count):
            _, claim = next(iter(self.claims.items()))
            assert release_claim(database, claim, "transient", count_attempt=count)
            self.claims = {}
            self.spent.append(claim)
            self.status = ImageStatus.QUEUED

        @precondition(lambda self: self.spent)
        @rule(outcome=st.sampled_from([ImageStatus.PROCESSED, ImageStatus.FAILED]))
        def use_a_spent_claim(self, outcome):
            # A worker that lost its claim (released, or its lease taken over) writes late.
            stale = self.spent[0]
            assert not complete_image(database, stale, outcome, detail="late")
            assert not release_claim(database, stale, "late", count_attempt=True)

        @invariant()
        def database_agrees(self):
            assert get_status(database, self.image_id) is self.status
            with database.transaction() as cur:
                cur.execute("SELECT COUNT(*) AS n FROM faces WHERE image_id = %s", (self.image_id,))
                faces = cur.fetchone()["n"]
            assert faces == (1 if self.status.is_final else 0)
            assert len(self.finished_by) <= 1

    ImageRow.TestCase.settings = settings(max_examples=25, stateful_step_count=12, deadline=None)
    ImageRow.TestCase().runTest()
