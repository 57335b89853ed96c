"""Operator actions: re-queue images, and enrol a person from a face the system found.

The frontend's database account is read-only, so its buttons call these endpoints. Every
re-queue is the retry job's conditional UPDATE back to QUEUED; only the caller that won a row
publishes its id, so two operators (or an operator and cron) never double-queue.
"""

from __future__ import annotations

import logging

from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from kubeface.audit import AuditAction, AuditEntry
from kubeface.images import (
    REQUEUEABLE_STATUSES,
    ImageStatus,
    count_with_status,
    get_image,
    requeue_final_image,
    requeue_with_status,
)
from kubeface.people import EnrolledImage, add_photos, create_person
from kubeface.proto import recognizer_pb2 as pb
from kubeface.recognition_errors import ImageRejected, NoFaceFound
from receiver.auth import actor_of
from receiver.errors import ApiError
from receiver.people_routes import enrolled, refuse_taken_name
from receiver.routes import PersonName
from receiver.state import ReceiverState

log = logging.getLogger(__name__)

router = APIRouter(tags=["operator"])

# How many rows one request moves; the answer says how many are left, so callers repeat.
REQUEUE_BATCH = 1000


class RequeueAll(BaseModel):
    model_config = ConfigDict(extra="forbid")
    status: ImageStatus = Field(description="FAILED or PENDING")
    limit: int = Field(default=REQUEUE_BATCH, ge=1, le=REQUEUE_BATCH)

    @field_validator("status")
    @classmethod
    def _requeueable(cls, status: ImageStatus) -> ImageStatus:
        if status not in REQUEUEABLE_STATUSES:
            allowed = " or ".join(s.value for s in REQUEUEABLE_STATUSES)
            raise ValueError(f"status must be {allowed}; {status.value} images are not re-queued")
        return status


class EnrolFromImage(BaseModel):
    """Either `name` (a new person; 409 if taken) or `person_id` (add the face to that person)."""

    model_config = ConfigDict(extra="forbid")
    name: PersonName | None = None
    person_id: int | None = Field(default=None, ge=1, description="an existing person to add the face to")
    face: int = Field(default=0, ge=0, description="index of the face in GET /image/{id}'s `faces`")

    @model_validator(mode="after")
    def _one_target(self) -> EnrolFromImage:
        if (self.name is None) == (self.person_id is None):
            raise ValueError("give either name (to create a person) or person_id (to add to one), not both")
        return self


def _state(request: Request) -> ReceiverState:
    return request.app.state.receiver


def _requeue_one(state: ReceiverState, image_id: int, actor: str, reason: str) -> list[int]:
    audit = AuditEntry(actor, AuditAction.REQUEUE, target=f"image:{image_id}", details={"reason": reason})
    return state.requeue(lambda db: requeue_final_image(db, image_id, audit=audit), reason=reason)


@router.post("/image/{image_id}/requeue", status_code=202)
def requeue_image(image_id: int, request: Request) -> dict:
    """Send one final image back to the processors (say, after its file was fixed)."""
    state = _state(request)
    if _requeue_one(state, image_id, actor_of(request), "operator"):
        return {"id": image_id, "status": ImageStatus.QUEUED.value}
    image = get_image(state.db, image_id)
    if image is None:
        raise ApiError(404, f"no image with id {image_id}")
    raise ApiError(409, f"image {image_id} is {image['status']}, already on its way; wait for it to finish")


@router.post("/images/requeue", status_code=202)
def requeue_images(body: RequeueAll, request: Request) -> dict:
    """Re-queue up to `limit` FAILED or PENDING images, oldest first; call again while `remaining`."""
    state = _state(request)
    audit = AuditEntry(
        actor_of(request),
        AuditAction.REQUEUE,
        target=f"images:{body.status.value}",
        details={"reason": "operator"},
    )
    won = state.requeue(
        lambda db: requeue_with_status(db, body.status, limit=body.limit, audit=audit), reason="operator"
    )
    remaining = count_with_status(state.db, body.status)
    return {"status": body.status.value, "requeued": won, "count": len(won), "remaining": remaining}


@router.post("/image/{image_id}/enroll", status_code=201)
def enrol_from_image(image_id: int, body: EnrolFromImage, request: Request) -> dict:
    """Enrol a face of a processed image as a new person (`name`) or add it to one (`person_id`),
    then re-identify the images it may be in."""
    state = _state(request)
    image = get_image(state.db, image_id)
    if image is None:
        raise ApiError(404, f"no image with id {image_id}")
    if body.name is not None:
        refuse_taken_name(state, body.name)
    photo = [EnrolledImage(image["path"], _encode_face(state, image, body.face))]
    actor = actor_of(request)
    source = {"image_id": image_id, "face": body.face}
    if body.person_id is not None:
        audit = AuditEntry(actor, AuditAction.ADD_PHOTO, details=source)
        enrolment = add_photos(state.db, body.person_id, photo, audit)
    else:
        assert body.name is not None  # the body's validator asks for one of the two
        enrolment = create_person(
            state.db, body.name, photo, AuditEntry(actor, AuditAction.ENROL, details=source)
        )
    # This image first: it may now show the person.
    this = _requeue_one(state, image_id, actor, "enrolment")
    log.info("face enrolled from an image", extra={"person_id": enrolment.person_id, "image_id": image_id})
    answer = enrolled(state, enrolment, photo, created=body.person_id is None, actor=actor)
    answer["requeued"] += len(this)
    return answer


def _encode_face(state: ReceiverState, image: dict, face: int):
    """The encoding of the image's face number `face`: the recognizer encodes its stored box."""
    faces = image["faces"]
    if not faces:
        raise ApiError(
            422, f"image {image['id']} has 0 face(s) to enrol; enrol a photo that shows one with POST /person"
        )
    if face >= len(faces):
        raise ApiError(
            422,
            f"image {image['id']} has {len(faces)} face(s); pick a face index from 0 to {len(faces) - 1}"
            " as listed in GET /image/{id}'s `faces`",
        )
    try:
        return state.recognizer.encode(image["path"], pb.Box(**faces[face]["box"])).encoding
    except NoFaceFound as exc:
        raise ApiError(
            422, f"the recognizer finds no face to enrol in image {image['id']} any more: {exc}"
        ) from exc
    except ImageRejected as exc:
        # Also a stored box the file no longer holds (it was replaced by a smaller picture).
        raise ApiError(
            422, f"cannot read image {image['id']} any more: {exc}; fix the file and re-queue the image"
        ) from exc
    # RecognizerUnavailable: 503 (receiver/errors.py).
