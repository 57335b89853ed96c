"""The receiver's HTTP routes: post images. Reading them back is in outcome_routes.py, people in
people_routes.py."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints

from kubeface.images import Posted
from kubeface.paths import MAX_PATH_LENGTH, PathRejected
from kubeface.text import require_name, shown
from receiver.errors import ApiError
from receiver.state import ReceiverState

router = APIRouter()

PathStr = Annotated[str, StringConstraints(min_length=1, max_length=MAX_PATH_LENGTH)]


PersonName = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=255),
    AfterValidator(lambda name: require_name(name, "name")),
]


class ImagePost(BaseModel):
    model_config = ConfigDict(extra="forbid")
    path: PathStr


class ImagesPost(BaseModel):
    model_config = ConfigDict(extra="forbid")
    paths: list[str] = Field(min_length=1)


def _state(request: Request) -> ReceiverState:
    return request.app.state.receiver


def posted_answer(posted: Posted) -> dict:
    """The answer for one posted image (path or upload); receiver/ingest.py logs its batch."""
    return {"id": posted.image_id, "status": posted.status.value, "duplicate": not posted.created}


@router.post("/image/post", status_code=202, responses={200: {"description": "The path was known"}})
async def post_image(body: ImagePost, request: Request) -> JSONResponse:
    """Queue one image path. 202 for a new path; 200 with the existing record for a known one."""
    # The path is checked, committed and published with the concurrent posts (receiver/ingest.py);
    # the answer comes only once this row is committed and nsqd has its id.
    [posted] = await _state(request).ingest.post_paths([body.path])
    if isinstance(posted, PathRejected):
        raise posted  # its 422 (receiver/errors.py)
    # A JSONResponse as is: the busiest route skips FastAPI's generic encoding of a plain dict.
    return JSONResponse(posted_answer(posted), status_code=202 if posted.created else 200)


@router.post("/images/post")
async def post_images(body: ImagesPost, request: Request) -> dict:
    """Queue many paths; each item gets its own answer."""
    state = _state(request)
    if len(body.paths) > state.max_batch:
        raise ApiError(
            413, f"a batch holds at most {state.max_batch} paths; split it", received=len(body.paths)
        )
    outcomes = await state.ingest.post_paths(body.paths)
    results = [
        {"path": shown(raw), "error": str(one)}
        if isinstance(one, PathRejected)
        else {"path": raw, **posted_answer(one)}
        for raw, one in zip(body.paths, outcomes, strict=True)
    ]
    refused = sum(1 for one in outcomes if isinstance(one, PathRejected))
    return {"accepted": len(results) - refused, "refused": refused, "results": results}
