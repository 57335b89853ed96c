"""Every branch of processor.handler.handle_image, against an in-memory images table and recognizer.

The real thing (MariaDB, nsqd, the recognizer) is in tests/integration; here only the decisions.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field

import grpc
import pymysql
import pytest

from kubeface.images import Claim, ImageStatus
from kubeface.proto import recognizer_pb2 as pb
from kubeface.recognition_errors import BreakerOpen, ImageMissing, RecognizerUnavailable, error_for
from processor.handler import NO_FACE, NO_MATCH, Finish, HandlerConfig, ImageRows, Requeue, handle_image

CONFIG = HandlerConfig(
    max_attempts=3, lease_seconds=30, breaker_requeue_delay_seconds=5, gallery_catch_up_seconds=2
)
DB = object()  # the fakes below never touch it
_tokens = itertools.count(1)


@dataclass
class Row:
    status: ImageStatus
    attempts: int = 0
    token: str | None = None
    detail: str | None = None
    person_id: int | None = None
    faces: list = field(default_factory=list)


class Table:
    """The `images` rows, with the same claim-token rules as kubeface/images.py."""

    def __init__(self, newest_enrolled_id: int = 0) -> None:
        self.rows: dict[int, Row] = {}
        self.releases: list[tuple[str, bool]] = []
        self.newest = newest_enrolled_id
        self.fail_on_complete: Exception | None = None
        self.fail_on_release: Exception | None = None
        self.steal_before_complete = False

    def add(self, status: ImageStatus = ImageStatus.QUEUED, attempts: int = 0) -> int:
        image_id = len(self.rows) + 1
        self.rows[image_id] = Row(status, attempts)
        return image_id

    def rows_api(self) -> ImageRows:
        return ImageRows(
            claim=self.claim,
            status=self.status,
            complete=self.complete,
            release=self.release,
            newest_enrolled_id=lambda _db: self.newest,
        )

    def claim(self, _db, image_id: int, _lease: float) -> Claim | None:
        row = self.rows.get(image_id)
        if row is None or row.status is not ImageStatus.QUEUED:
            return None
        row.status, row.token, row.attempts = ImageStatus.PROCESSING, f"t{next(_tokens)}", row.attempts + 1
        return Claim(image_id, f"img-{image_id}.jpg", row.token, row.attempts)

    def status(self, _db, image_id: int) -> ImageStatus | None:
        row = self.rows.get(image_id)
        return row.status if row else None

    def _held(self, claim: Claim) -> Row | None:
        row = self.rows[claim.image_id]
        return row if row.status is ImageStatus.PROCESSING and row.token == claim.token else None

    def complete(self, _db, claim, status, *, person_id=None, detail=None, faces=(), timings=None) -> bool:
        if self.fail_on_complete is not None:
            raise self.fail_on_complete
        if self.steal_before_complete:
            self.rows[claim.image_id].token = "another processor"
        row = self._held(claim)
        if row is None:
            return False
        row.status, row.person_id, row.detail, row.faces, row.token = (
            status,
            person_id,
            detail,
            list(faces),
            None,
        )
        return True

    def release(self, _db, claim, detail, *, count_attempt) -> bool:
        if self.fail_on_release is not None:
            raise self.fail_on_release
        self.releases.append((detail, count_attempt))
        row = self._held(claim)
        if row is None:
            return False
        row.status, row.detail, row.token = ImageStatus.QUEUED, detail, None
        row.attempts -= 0 if count_attempt else 1
        return True


class Recognizer:
    """Answers every identify with `reply`, or raises `error`."""

    def __init__(self, reply: pb.IdentifyResponse | None = None, error: Exception | None = None) -> None:
        self.reply, self.error, self.is_open, self.calls = reply, error, False, 0

    def identify(self, image_path: str) -> pb.IdentifyResponse:
        self.calls += 1
        if self.error is not None:
            raise self.error
        assert self.reply is not None
        return self.reply


def _face(matched: bool, person_id: int = 7, distance: float = 0.4) -> pb.Face:
    return pb.Face(
        box=pb.Box(top=1, right=2, bottom=3, left=0),
        nearest_person_id=person_id,
        nearest_person_image_id=person_id * 10,
        distance=distance,
        matched=matched,
    )


def _handle(table: Table, image_id: int, recognizer: Recognizer, config: HandlerConfig = CONFIG):
    return handle_image(image_id, DB, recognizer, config, table.rows_api())


# 1
def test_breaker_open_requeues_without_claiming_or_counting_an_attempt():
    table = Table()
    image_id = table.add()
    recognizer = Recognizer(pb.IdentifyResponse())
    recognizer.is_open = True
    assert _handle(table, image_id, recognizer) == Requeue(5, "breaker open")
    assert (table.rows[image_id].status, table.rows[image_id].attempts, recognizer.calls) == (
        ImageStatus.QUEUED,
        0,
        0,
    )


# 2
def test_breaker_that_opens_during_the_call_gives_the_row_back_uncounted():
    table = Table()
    image_id = table.add()
    error = BreakerOpen("open: details", "recognizer circuit breaker is open")
    assert _handle(table, image_id, Recognizer(error=error)) == Requeue(5, "breaker open")
    row = table.rows[image_id]
    assert (row.status, row.attempts, row.detail) == (
        ImageStatus.QUEUED,
        0,
        "recognizer circuit breaker is open",
    )


# 3
def test_recognizer_unavailable_requeues_with_backoff_and_counts_the_attempt():
    table = Table()
    image_id = table.add(attempts=1)
    error = error_for(grpc.StatusCode.UNAVAILABLE, "10.0.0.9:50051 refused")
    assert _handle(table, image_id, Recognizer(error=error)) == Requeue(4.0, "recognizer unavailable")
    row = table.rows[image_id]
    assert (row.status, row.attempts) == (ImageStatus.QUEUED, 2)
    assert row.detail == "recognizer call failed: UNAVAILABLE"  # never the address


# 4
def test_the_backoff_is_capped_at_a_minute():
    table = Table()
    image_id = table.add(attempts=9)
    config = HandlerConfig(max_attempts=20, lease_seconds=30, breaker_requeue_delay_seconds=5)
    error = RecognizerUnavailable("down", "recognizer call failed: DEADLINE_EXCEEDED")
    assert _handle(table, image_id, Recognizer(error=error), config) == Requeue(
        60.0, "recognizer unavailable"
    )


# 5
def test_attempts_exhausted_fails_the_row_with_the_public_reason():
    table = Table()
    image_id = table.add(attempts=2)
    error = RecognizerUnavailable("down at 10.0.0.9", "recognizer call failed: UNAVAILABLE")
    assert _handle(table, image_id, Recognizer(error=error)) == Finish("FAILED")
    row = table.rows[image_id]
    assert (row.status, row.detail) == (
        ImageStatus.FAILED,
        "recognizer error after 3 attempts: recognizer call failed: UNAVAILABLE",
    )


# 6
def test_a_rejected_image_fails_at_once_with_the_code_and_reason():
    table = Table()
    image_id = table.add()
    assert _handle(table, image_id, Recognizer(error=ImageMissing("no file at 'x.jpg'"))) == Finish("FAILED")
    row = table.rows[image_id]
    assert (row.status, row.detail, row.attempts) == (ImageStatus.FAILED, "NOT_FOUND: no file at 'x.jpg'", 1)


# 7
def test_no_face_is_pending():
    table = Table(newest_enrolled_id=99)  # behind, but with no face there is no one to miss
    image_id = table.add()
    assert _handle(table, image_id, Recognizer(pb.IdentifyResponse(gallery_last_id=1))) == Finish("PENDING")
    assert (table.rows[image_id].status, table.rows[image_id].detail) == (ImageStatus.PENDING, NO_FACE)


# 8
def test_no_match_from_an_up_to_date_recognizer_is_pending():
    table = Table(newest_enrolled_id=5)
    image_id = table.add()
    reply = pb.IdentifyResponse(faces=[_face(False)], gallery_last_id=5)
    assert _handle(table, image_id, Recognizer(reply)) == Finish("PENDING")
    row = table.rows[image_id]
    assert (row.status, row.detail, len(row.faces)) == (ImageStatus.PENDING, NO_MATCH, 1)


# 9
def test_no_match_from_a_recognizer_behind_enrolment_waits_for_it_to_catch_up():
    table = Table(newest_enrolled_id=6)
    image_id = table.add()
    reply = pb.IdentifyResponse(faces=[_face(False)], gallery_last_id=5)
    assert _handle(table, image_id, Recognizer(reply)) == Requeue(2, "recognizer behind enrolment")
    row = table.rows[image_id]
    assert (row.status, row.attempts) == (ImageStatus.QUEUED, 0)


# 9b
@pytest.mark.parametrize("matched", [False, True])
def test_a_face_beside_a_known_one_waits_for_a_recognizer_behind_enrolment(matched):
    """Enrolling the second face of a PROCESSED picture re-queues it; a recognizer that has not
    loaded the new face yet must not record that face as before (unknown, or someone else)."""
    table = Table(newest_enrolled_id=6)
    image_id = table.add()
    reply = pb.IdentifyResponse(faces=[_face(True, 1, 0.3), _face(matched, 2, 0.5)], gallery_last_id=5)
    assert _handle(table, image_id, Recognizer(reply)) == Requeue(2, "recognizer behind enrolment")
    assert table.rows[image_id].status is ImageStatus.QUEUED
    caught_up = pb.IdentifyResponse(faces=[_face(True, 1, 0.3), _face(True, 3, 0.0)], gallery_last_id=6)
    assert _handle(table, image_id, Recognizer(caught_up)) == Finish("PROCESSED")


# 10
def test_no_match_from_a_recognizer_that_cannot_say_how_far_it_loaded_is_pending():
    table = Table(newest_enrolled_id=6)
    image_id = table.add()
    assert _handle(table, image_id, Recognizer(pb.IdentifyResponse(faces=[_face(False)]))) == Finish(
        "PENDING"
    )


# 11
def test_a_match_names_the_closest_matched_person():
    table = Table()
    image_id = table.add()
    reply = pb.IdentifyResponse(faces=[_face(True, 1, 0.5), _face(True, 2, 0.3)], gallery_last_id=0)
    assert _handle(table, image_id, Recognizer(reply)) == Finish("PROCESSED")
    row = table.rows[image_id]
    assert (row.status, row.person_id, row.detail) == (ImageStatus.PROCESSED, 2, None)


# 12
def test_a_claim_lost_before_the_write_leaves_the_other_processors_result():
    table = Table()
    image_id = table.add()
    table.steal_before_complete = True
    assert _handle(table, image_id, Recognizer(pb.IdentifyResponse())) == Finish("claim lost")
    assert table.rows[image_id].status is ImageStatus.PROCESSING


# 13
def test_a_row_held_by_another_worker_is_requeued_for_its_lease():
    table = Table()
    image_id = table.add(ImageStatus.PROCESSING)
    recognizer = Recognizer(pb.IdentifyResponse())
    assert _handle(table, image_id, recognizer) == Requeue(30, "held by another worker")
    assert recognizer.calls == 0


# 14
@pytest.mark.parametrize("status", [ImageStatus.PROCESSED, ImageStatus.PENDING, ImageStatus.FAILED])
def test_a_final_row_is_finished_untouched(status):
    table = Table()
    image_id = table.add(status, attempts=1)
    assert _handle(table, image_id, Recognizer(pb.IdentifyResponse())) == Finish(f"already {status.value}")
    assert (table.rows[image_id].status, table.rows[image_id].attempts) == (status, 1)


# 15
def test_a_message_for_a_missing_row_is_dropped():
    assert _handle(Table(), 404, Recognizer(pb.IdentifyResponse())) == Finish("unknown id")


# 16
def test_a_row_given_back_between_claim_and_look_is_requeued_at_once():
    table = Table()
    image_id = table.add(ImageStatus.FAILED)

    def claim_missed_then_requeued(_db, claimed_id: int, _lease: float) -> None:
        table.rows[claimed_id].status = ImageStatus.QUEUED  # an operator re-queued it meanwhile

    rows = ImageRows(
        claim=claim_missed_then_requeued,
        status=table.status,
        complete=table.complete,
        release=table.release,
        newest_enrolled_id=lambda _db: 0,
    )
    assert handle_image(image_id, DB, Recognizer(pb.IdentifyResponse()), CONFIG, rows) == Requeue(
        0, "released meanwhile"
    )


# 17
def test_a_database_error_mid_way_gives_the_claim_back_and_raises():
    table = Table()
    image_id = table.add()
    table.fail_on_complete = pymysql.err.OperationalError(2013, "Lost connection")
    with pytest.raises(pymysql.err.OperationalError):
        _handle(table, image_id, Recognizer(pb.IdentifyResponse()))
    row = table.rows[image_id]
    assert (row.status, row.attempts) == (ImageStatus.QUEUED, 0)
    assert table.releases == [("processing failed; re-queued", False)]


# 18
def test_when_the_claim_cannot_be_given_back_either_the_first_error_is_raised(caplog):
    table = Table()
    image_id = table.add()
    table.fail_on_complete = pymysql.err.OperationalError(2013, "Lost connection")
    table.fail_on_release = pymysql.err.OperationalError(2003, "Can't connect")
    with pytest.raises(pymysql.err.OperationalError, match="Lost connection"):
        _handle(table, image_id, Recognizer(pb.IdentifyResponse()))
    assert table.rows[image_id].status is ImageStatus.PROCESSING  # the lease frees it later
    assert "could not give the claim back" in caplog.text
