"""The receiver's HTTP routes: post images. Reading them back is in outcome_routes.py, people in
people_routes.py."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints

from kubeface.images import Posted
from kubeface.paths import MAX_PATH_LENGTH, PathRejected, resolve_image_path
from kubeface.text import require_name, shown
from receiver.errors import ApiError
from receiver.state import ReceiverState

log = logging.getLogger(__name__)

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
    """The answer for one posted image (path or upload), logged once."""
    log.info("image posted", extra={"image_id": posted.image_id, "new_record": posted.created})
    return {"id": posted.image_id, "status": posted.status.value, "duplicate": not posted.created}


@router.post("/image/post", status_code=202, responses={200: {"description": "The path was known"}})
async def post_image(body: ImagePost, request: Request) -> JSONResponse:
    """Queue one image path. 202 for a new path; 200 with the existing record for a known one."""
    state = _state(request)
    # realpath may touch the disk (a slow volume, long paths): never on the event loop.
    image_path = await run_in_threadpool(resolve_image_path, state.image_root, body.path)
    # Concurrent posts are committed and published together (receiver/ingest.py); the answer
    # comes only once this row is committed and nsqd has its id.
    [posted] = await state.ingest.post([image_path.relative])
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
    results, accepted = await run_in_threadpool(_checked_paths, state.image_root, body.paths)
    posted = await state.ingest.post(list(accepted.values()))
    for index, one in zip(accepted, posted, strict=True):
        results[index].update(posted_answer(one))
    return {"accepted": len(accepted), "refused": len(results) - len(accepted), "results": results}


def _checked_paths(image_root: Path, raws: list[str]) -> tuple[list[dict], dict[int, str]]:
    """Each path's answer so far, and the accepted ones by their index in the answers."""
    results: list[dict] = []
    accepted: dict[int, str] = {}
    for raw in raws:
        try:
            accepted[len(results)] = resolve_image_path(image_root, raw).relative
            results.append({"path": raw})
        except PathRejected as exc:
            results.append({"path": shown(raw), "error": str(exc)})
    return results, accepted
