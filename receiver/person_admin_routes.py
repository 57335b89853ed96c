"""Managing known people: list and show them, rename, merge, remove a photo, erase.

Every write is one transaction in kubeface/people.py with its audit record; the images it sends
back for re-identification are published here, after the commit.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, ConfigDict, Field

from kubeface.people import (
    MergeIntoItself,
    PersonNotFound,
    PhotoNotFound,
    erase_person,
    merge_people,
    remove_photo,
    rename_person,
)
from kubeface.people_read import PAGE_MAX, get_person, list_people
from receiver.auth import actor_of
from receiver.errors import ApiError
from receiver.routes import PersonName
from receiver.state import ReceiverState

log = logging.getLogger(__name__)

router = APIRouter(tags=["people"])


class Rename(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: PersonName


class MergeInto(BaseModel):
    model_config = ConfigDict(extra="forbid")
    into: int = Field(ge=1, description="the person who keeps the photos")


def _state(request: Request) -> ReceiverState:
    return request.app.state.receiver


def _publish(state: ReceiverState, image_ids: list[int], reason: str) -> None:
    """Publish ids already moved to QUEUED in the write's transaction."""
    state.requeue(lambda _db: image_ids, reason=reason)


@router.get("/people")
def get_people(
    request: Request,
    after: int = Query(0, ge=0, description="the last id of the previous page"),
    limit: int = Query(100, ge=1, le=PAGE_MAX),
) -> dict[str, Any]:
    """Known people in id order, with photo and recognised-image counts; page with `after`."""
    people = list_people(_state(request).db, after_id=after, limit=limit)
    following = people[-1]["id"] if len(people) == limit else None
    return {"people": people, "next_after": following}


@router.get("/person/{person_id}", responses={404: {"description": "No such person"}})
def get_one_person(person_id: int, request: Request) -> dict[str, Any]:
    """One person: their photos (with ids) and counts."""
    person = get_person(_state(request).db, person_id)
    if person is None:
        raise PersonNotFound(person_id)
    return person


@router.patch("/person/{person_id}", responses={404: {}, 409: {"description": "The name is taken"}})
def patch_person(person_id: int, body: Rename, request: Request) -> dict[str, Any]:
    """Rename a person; a name another person has is refused (409, with their person_id)."""
    old = rename_person(_state(request).db, person_id, body.name, actor=actor_of(request))
    log.info("person renamed", extra={"person_id": person_id})
    return {"id": person_id, "name": body.name, "previous_name": old}


@router.post("/person/{person_id}/merge", responses={404: {}, 422: {}})
def post_merge(person_id: int, body: MergeInto, request: Request) -> dict[str, Any]:
    """Merge a person into another: the photos move, the person goes, and what named them names
    `into`; an image that now names `into` on two faces is re-identified."""
    state = _state(request)
    try:
        merge = merge_people(state.db, person_id, body.into, actor=actor_of(request))
    except MergeIntoItself as exc:
        raise ApiError(422, str(exc)) from exc
    _publish(state, merge.images_requeued, "merge")
    log.info("person merged", extra={"person_id": person_id, "into": body.into})
    return {
        "merged": person_id,
        "into": body.into,
        "name": merge.into_name,
        "photos_moved": merge.photos_moved,
        "faces_relabelled": merge.faces_relabelled,
        "images_requeued": len(merge.images_requeued),
        "note": "images that named both people on two faces are re-identified",
    }


@router.delete("/person/{person_id}/photos/{photo_id}", responses={404: {}})
def delete_photo(person_id: int, photo_id: int, request: Request) -> dict[str, Any]:
    """Remove one enrolment photo; images matched through it are re-identified."""
    state = _state(request)
    try:
        removal = remove_photo(state.db, person_id, photo_id, actor=actor_of(request))
    except PhotoNotFound as exc:
        raise ApiError(404, f"{exc}; GET /person/{person_id} lists the photo ids") from exc
    _publish(state, removal.images_requeued, "photo removed")
    return {
        "person_id": person_id,
        "photo_id": photo_id,
        "faces_unlinked": removal.faces_unlinked,
        "images_requeued": len(removal.images_requeued),
    }


@router.delete("/person/{person_id}", responses={404: {}})
def delete_person(person_id: int, request: Request) -> dict[str, Any]:
    """Erase a person: their photos and encodings go, their faces name nobody, and each image that
    named them is re-identified. Answers with the erasure receipt."""
    state = _state(request)
    erasure = erase_person(state.db, person_id, actor=actor_of(request))
    _publish(state, erasure.images_requeued, "erasure")
    log.info("person erased", extra={"person_id": person_id, "photos": erasure.photos_removed})
    return {
        "person_id": erasure.person_id,
        "name": erasure.name,
        "photos_removed": erasure.photos_removed,
        "faces_unlinked": erasure.faces_unlinked,
        "images_requeued": len(erasure.images_requeued),
        "erased_at": erasure.erased_at.isoformat(),
    }
