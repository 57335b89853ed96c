"""Enrolment routes: create a person, add photos to one. Two routes, so that a taken name is
refused instead of silently adding a stranger's face to the person who owns it."""

from __future__ import annotations

import logging

from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict, Field

from kubeface.audit import AuditAction, AuditEntry
from kubeface.images import requeue_pending_after_enrolment
from kubeface.paths import resolve_image_path
from kubeface.people import (
    EnrolledImage,
    Enrolment,
    PersonExists,
    add_photos,
    create_person,
    find_person_id,
)
from kubeface.recognition_errors import ImageRejected, NoFaceFound
from receiver.auth import actor_of
from receiver.errors import ApiError
from receiver.routes import PathStr, PersonName
from receiver.state import ReceiverState

log = logging.getLogger(__name__)

router = APIRouter(tags=["people"])

REQUEUE_AFTER_ENROLMENT = 1000


class PersonPost(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: PersonName
    paths: list[PathStr] = Field(min_length=1, max_length=100)


class PhotosPost(BaseModel):
    model_config = ConfigDict(extra="forbid")
    paths: list[PathStr] = Field(min_length=1, max_length=100)


def _state(request: Request) -> ReceiverState:
    return request.app.state.receiver


@router.post("/person", status_code=201, responses={409: {"description": "The name is taken"}})
def post_person(body: PersonPost, request: Request) -> dict:
    """Enrol a new person from photos under the image root (the largest face of each).

    A taken name is refused (409): adding photos to someone is POST /person/{id}/photos."""
    state = _state(request)
    refuse_taken_name(state, body.name)
    images = encode_photos(state, body.paths)
    actor = actor_of(request)
    enrolment = create_person(state.db, body.name, images, AuditEntry(actor, AuditAction.ENROL))
    return enrolled(state, enrolment, images, created=True, actor=actor)


@router.post(
    "/person/{person_id}/photos", status_code=201, responses={404: {"description": "No such person"}}
)
def post_person_photos(person_id: int, body: PhotosPost, request: Request) -> dict:
    """Add photos (the largest face of each) to an existing person."""
    state = _state(request)
    images = encode_photos(state, body.paths)
    actor = actor_of(request)
    enrolment = add_photos(state.db, person_id, images, AuditEntry(actor, AuditAction.ADD_PHOTO))
    return enrolled(state, enrolment, images, created=False, actor=actor)


def refuse_taken_name(state: ReceiverState, name: str) -> None:
    """PersonExists before any encoding, so that a refusal costs nothing (create_person checks again)."""
    existing = find_person_id(state.db, name)
    if existing is not None:
        raise PersonExists(name, existing)


def encode_photos(state: ReceiverState, paths: list[str]) -> list[EnrolledImage]:
    """Each photo's largest face, encoded by the recognizer; the first unusable one refuses all."""
    images = []
    for raw in paths:
        image_path = resolve_image_path(state.image_root, raw)
        try:
            reply = state.recognizer.encode(image_path.relative)
        except NoFaceFound as exc:
            raise ApiError(422, f"no face found in {raw!r}; enrol with a photo that shows the face") from exc
        except ImageRejected as exc:
            raise ApiError(
                422, f"cannot use {raw!r}: {exc}; enrol with a readable photo under the image root"
            ) from exc
        # RecognizerUnavailable: 503 (receiver/errors.py).
        images.append(EnrolledImage(image_path.relative, reply.encoding))
    return images


def enrolled(
    state: ReceiverState, enrolment: Enrolment, images: list[EnrolledImage], *, created: bool, actor: str
) -> dict:
    """Re-identify PENDING images the person may be in, and describe the enrolment.

    The re-queue is its own audit record (action requeue, reason enrolment): it is its own
    transactions, after the enrolment committed, and wins rows the enrolment did not write."""
    log.info(
        "person enrolled",
        extra={
            "person_id": enrolment.person_id,
            "images": len(enrolment.person_image_ids),
            "new_person": created,
        },
    )
    # One batch here, the rest by the retry job's `pending_after_enrolment`.
    audit = AuditEntry(
        actor,
        AuditAction.REQUEUE,
        target="images:PENDING",
        details={"reason": "enrolment", "person_id": enrolment.person_id},
    )
    requeued = state.requeue(
        lambda db: requeue_pending_after_enrolment(db, limit=REQUEUE_AFTER_ENROLMENT, audit=audit),
        reason="enrolment",
    )
    return {
        "id": enrolment.person_id,
        "name": enrolment.name,
        "created": created,
        "requeued": len(requeued),
        "images": [
            {"id": i, "path": img.path} for i, img in zip(enrolment.person_image_ids, images, strict=True)
        ],
    }
