"""Operator actions: re-queue images, and enrol a person from a face the system found.

The frontend's database account is read-only, so its buttons call these endpoints. Every
re-queue is the retry job's conditional UPDATE back to QUEUED; only the caller that won a row
publishes its id, so two operators (or an operator and cron) never double-queue.
"""

from __future__ import annotations

import logging
from typing import Annotated, Literal

import grpc
from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from kubeface.images import get_image
from kubeface.people import EnrolledImage, enroll_person
from kubeface.proto import recognizer_pb2 as pb
from kubeface.retry import PENDING_BEFORE_ENROLMENT
from receiver.errors import ApiError
from receiver.state import ReceiverState

log = logging.getLogger(__name__)

router = APIRouter(tags=["operator"])

# Final rows only: a QUEUED or PROCESSING row is already on its way.
_FINAL = "status IN ('PROCESSED', 'PENDING', 'FAILED')"
# How many rows one request moves; the answer says how many are left, so callers repeat.
REQUEUE_BATCH = 1000


class RequeueAll(BaseModel):
    model_config = ConfigDict(extra="forbid")
    status: Literal["FAILED", "PENDING"]
    limit: int = Field(default=REQUEUE_BATCH, ge=1, le=REQUEUE_BATCH)


class EnrolFromImage(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=255)]
    face: int = Field(default=0, ge=0, description="index of the face in GET /image/{id}'s `faces`")


def _state(request: Request) -> ReceiverState:
    return request.app.state.receiver


def _requeue(state: ReceiverState, predicate: str, params: dict) -> list[int]:
    return state.requeue(predicate, params, reason="operator")


def _count(state: ReceiverState, predicate: str) -> int:
    with state.db.transaction() as cur:
        cur.execute(f"SELECT COUNT(*) AS n FROM images WHERE {predicate}")
        return cur.fetchone()["n"]


@router.post("/image/{image_id}/requeue", status_code=202)
def requeue_image(image_id: int, request: Request) -> dict:
    """Send one final image back to the processors (say, after its file was fixed)."""
    state = _state(request)
    if _requeue(state, f"{_FINAL} AND id = %(image_id)s", {"image_id": image_id, "limit": 1}):
        return {"id": image_id, "status": "QUEUED"}
    image = get_image(state.db, image_id)
    if image is None:
        raise ApiError(404, f"no image with id {image_id}")
    raise ApiError(409, f"image {image_id} is {image['status']}, already on its way; wait for it to finish")


@router.post("/images/requeue", status_code=202)
def requeue_images(body: RequeueAll, request: Request) -> dict:
    """Re-queue up to `limit` FAILED or PENDING images, oldest first; call again while `remaining`."""
    state = _state(request)
    predicate = f"status = '{body.status}'"  # a Literal, never user text
    won = _requeue(state, predicate, {"limit": body.limit})
    return {"status": body.status, "requeued": won, "count": len(won), "remaining": _count(state, predicate)}


@router.post("/image/{image_id}/enroll", status_code=201)
def enrol_from_image(image_id: int, body: EnrolFromImage, request: Request) -> dict:
    """Enrol `name` from a face of a processed image, then re-identify the images it may be in."""
    state = _state(request)
    image = get_image(state.db, image_id)
    if image is None:
        raise ApiError(404, f"no image with id {image_id}")
    faces = image["faces"]
    if body.face >= len(faces):
        raise ApiError(422, f"image {image_id} has {len(faces)} face(s); pick a face index below that")
    try:
        reply: pb.EncodeResponse = state.recognizer.Encode(
            pb.EncodeRequest(image_path=image["path"]), timeout=state.recognizer_timeout
        )
    except grpc.RpcError as exc:
        if exc.code() in (grpc.StatusCode.NOT_FOUND, grpc.StatusCode.INVALID_ARGUMENT):
            raise ApiError(422, f"cannot read image {image_id} any more: {exc.details()}") from exc
        log.error("recognizer Encode failed: %s %s", exc.code().name, exc.details())
        raise ApiError(503, "the recognizer is unavailable; try the enrolment again shortly") from exc
    # Encode takes the largest face; enrolling another one needs a box in EncodeRequest.
    chosen = faces[body.face]["box"]
    encoded = {
        "top": reply.box.top,
        "right": reply.box.right,
        "bottom": reply.box.bottom,
        "left": reply.box.left,
    }
    if chosen != encoded:
        raise ApiError(
            422,
            f"only the largest face of an image can be enrolled for now; face {body.face} is not it."
            " Crop the photo to that face and enrol the crop with POST /person",
        )
    enrolment = enroll_person(state.db, body.name, [EnrolledImage(image["path"], reply.encoding)])
    # This image and the PENDING ones with faces may now show the new person.
    requeued = _requeue(state, f"{_FINAL} AND id = %(image_id)s", {"image_id": image_id, "limit": 1})
    requeued += _requeue(state, PENDING_BEFORE_ENROLMENT, {"limit": REQUEUE_BATCH})
    log.info("person enrolled from an image", extra={"person_id": enrolment.person_id, "image_id": image_id})
    return {
        "id": enrolment.person_id,
        "name": body.name,
        "created": enrolment.created,
        "requeued": requeued,
    }
