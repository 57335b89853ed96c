"""What happens to one image id: claim the row, ask the recognizer, record the outcome."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

import numpy as np
from prometheus_client import Counter

from kubeface.db import Database
from kubeface.encodings import encoding_to_bytes
from kubeface.images import (
    Claim,
    FaceRecord,
    ImageStatus,
    StepTimings,
    claim_image,
    complete_image,
    get_status,
    release_claim,
)
from kubeface.people import newest_enrolled_id
from kubeface.proto import recognizer_pb2 as pb
from kubeface.recognition_errors import BreakerOpen, ImageRejected, RecognizerUnavailable

log = logging.getLogger(__name__)

OUTCOMES = Counter("processor_messages_total", "Messages handled, by outcome", ["outcome"])

NO_FACE = "no face found"
NO_MATCH = "no known person matched"


@dataclass(frozen=True)
class Finish:
    """Done with the message: the outcome is committed, or there is nothing to do."""

    reason: str


@dataclass(frozen=True)
class Requeue:
    """Give the message back to NSQ, to be delivered again after `delay_seconds`."""

    delay_seconds: float
    reason: str


Outcome = Finish | Requeue


class Identifier(Protocol):
    """What the handler needs of the recognizer client (kubeface/recognizer_client.py)."""

    @property
    def is_open(self) -> bool: ...

    def identify(self, image_path: str) -> pb.IdentifyResponse: ...


@dataclass(frozen=True)
class ImageRows:
    """The handler's reads and writes in MySQL; unit tests pass in-memory ones."""

    claim: Callable[[Database, int, float], Claim | None] = claim_image
    status: Callable[[Database, int], ImageStatus | None] = get_status
    complete: Callable[..., bool] = complete_image
    release: Callable[..., bool] = release_claim
    newest_enrolled_id: Callable[[Database], int] = newest_enrolled_id
    # Called after an outcome is committed (the outcome stream); must not raise.
    announce: Callable[[int, ImageStatus, int | None, str | None], None] = lambda *outcome: None


MYSQL_ROWS = ImageRows()


@dataclass(frozen=True)
class HandlerConfig:
    max_attempts: int
    lease_seconds: float
    breaker_requeue_delay_seconds: float
    # How long to wait for recognizers to load a new enrolment (about one gallery refresh).
    gallery_catch_up_seconds: float = 2.0


def handle_image(
    image_id: int,
    db: Database,
    recognizer: Identifier,
    config: HandlerConfig,
    rows: ImageRows = MYSQL_ROWS,
) -> Outcome:
    """Process one image; the returned outcome says what to do with its message."""
    if recognizer.is_open:
        # Claiming now would only count an attempt that cannot succeed.
        return _counted(Requeue(config.breaker_requeue_delay_seconds, "breaker open"))
    claim = rows.claim(db, image_id, config.lease_seconds)
    if claim is None:
        return _counted(_not_claimed(db, rows, image_id, config))
    try:
        return _process_claimed(claim, db, rows, recognizer, config)
    except Exception:
        # MySQL went away mid-way, or a bug: give the row back now, so the redelivered message
        # can claim it at once instead of waiting out the lease. Best effort: MySQL may be down.
        try:
            rows.release(db, claim, "processing failed; re-queued", count_attempt=False)
        except Exception as release_error:  # noqa: BLE001 - the original error is the one to raise
            log.warning("could not give the claim back: %s", release_error, extra={"image_id": image_id})
        raise


def _process_claimed(
    claim: Claim, db: Database, rows: ImageRows, recognizer: Identifier, config: HandlerConfig
) -> Outcome:
    image_id = claim.image_id
    log_extra = {"image_id": image_id, "attempt": claim.attempts}
    try:
        reply = recognizer.identify(claim.path)
    except ImageRejected as exc:
        rejected = f"{exc.code_name}: {exc}"
        return _counted(_record(db, rows, claim, ImageStatus.FAILED, detail=rejected))
    except BreakerOpen as exc:
        rows.release(db, claim, exc.public, count_attempt=False)
        return _counted(Requeue(config.breaker_requeue_delay_seconds, "breaker open"))
    except RecognizerUnavailable as exc:
        if claim.attempts >= config.max_attempts:
            log.warning("recognizer call failed; giving up", extra={**log_extra, "error": str(exc)})
            gave_up = f"recognizer error after {claim.attempts} attempts: {exc.public}"
            return _counted(_record(db, rows, claim, ImageStatus.FAILED, detail=gave_up))
        rows.release(db, claim, exc.public, count_attempt=True)
        log.warning("recognizer call failed; requeued", extra={**log_extra, "error": str(exc)})
        return _counted(Requeue(min(2.0**claim.attempts, 60.0), "recognizer unavailable"))
    status, person_id, detail, faces = interpret(reply)
    if faces and _recognizer_is_behind(db, rows, reply):
        # Someone was enrolled after this recognizer last refreshed: they may be an unknown face, or
        # nearer than the person a face matched. Also for a PROCESSED picture: enrolling one of its
        # faces re-queues it, and a stale answer would record that face as it was before.
        rows.release(db, claim, "recognizer had not loaded the newest known faces", count_attempt=False)
        return _counted(Requeue(config.gallery_catch_up_seconds, "recognizer behind enrolment"))
    timings = step_timings(reply)
    outcome = {"person_id": person_id, "detail": detail, "faces": faces, "timings": timings}
    return _counted(_record(db, rows, claim, status, **outcome))


def _recognizer_is_behind(db: Database, rows: ImageRows, reply: pb.IdentifyResponse) -> bool:
    if not reply.HasField("gallery_last_id"):
        return False  # an older recognizer: it cannot say
    return rows.newest_enrolled_id(db) > reply.gallery_last_id


def interpret(
    reply: pb.IdentifyResponse,
) -> tuple[ImageStatus, int | None, str | None, list[FaceRecord]]:
    """Turn the recognizer's answer into the row's outcome: the closest named person wins."""
    faces = [_face_record(f) for f in reply.faces]
    named = [f for f in faces if f.person_id is not None]
    if named:
        best = min(named, key=lambda f: f.distance if f.distance is not None else 0.0)
        return ImageStatus.PROCESSED, best.person_id, None, faces
    if not reply.faces:
        return ImageStatus.PENDING, None, NO_FACE, faces
    return ImageStatus.PENDING, None, NO_MATCH, faces


def _face_record(face: pb.Face) -> FaceRecord:
    box, nearest = face.box, face.nearest_person_id or None
    if face.HasField("named"):
        named: tuple[int | None, int | None, float | None] = (
            face.named.person_id,
            face.named.person_image_id or None,
            face.named.distance,
        )
    else:
        # An older recognizer names a face after its nearest person when `matched`.
        named = (
            nearest if face.matched else None,
            face.nearest_person_image_id or None,
            face.distance if nearest else None,
        )
    runner_up = face.runner_up if face.HasField("runner_up") else None
    return FaceRecord(
        top=box.top,
        right=box.right,
        bottom=box.bottom,
        left=box.left,
        person_id=named[0],
        person_image_id=named[1],
        distance=named[2],
        nearest_person_id=nearest,
        nearest_distance=face.distance if nearest else None,
        runner_up_person_id=runner_up.person_id if runner_up else None,
        margin=runner_up.distance if runner_up else None,
        # Only a face that matched nobody is kept for clustering.
        encoding=encoding_to_bytes(np.asarray(face.encoding)) if face.encoding and named[0] is None else None,
    )


def step_timings(reply: pb.IdentifyResponse) -> StepTimings | None:
    """The recognizer's per-step milliseconds, or None from a recognizer that does not say."""
    if not reply.HasField("timings"):
        return None
    t = reply.timings
    return StepTimings(t.decode_ms, t.detect_ms, t.encode_ms, t.match_ms)


def _record(db: Database, rows: ImageRows, claim: Claim, status: ImageStatus, **outcome) -> Outcome:
    if rows.complete(db, claim, status, **outcome):
        log.info(
            "image %s",
            status.value.lower(),
            extra={
                "image_id": claim.image_id,
                "status": status.value,
                "detail": outcome.get("detail"),
                "attempt": claim.attempts,
            },
        )
        rows.announce(claim.image_id, status, outcome.get("person_id"), outcome.get("detail"))
        return Finish(status.value)
    # The lease ran out and another processor took the row over; its result stands.
    log.warning("claim lost before the result was written", extra={"image_id": claim.image_id})
    return Finish("claim lost")


def _not_claimed(db: Database, rows: ImageRows, image_id: int, config: HandlerConfig) -> Outcome:
    status = rows.status(db, image_id)
    if status is None:
        log.warning("message for an unknown image id dropped", extra={"image_id": image_id})
        return Finish("unknown id")
    if status is ImageStatus.PROCESSING:
        # Another worker holds it. Keep the message until that worker finishes or its lease runs
        # out, so a crashed worker's image is taken over without waiting for the retry job.
        return Requeue(config.lease_seconds, "held by another worker")
    if status is ImageStatus.QUEUED:
        return Requeue(0, "released meanwhile")  # given back between our claim and our look
    return Finish(f"already {status.value}")


def _counted(outcome: Outcome) -> Outcome:
    OUTCOMES.labels(outcome.reason).inc()
    return outcome
