"""Reading outcomes: GET /image/{id} (optionally waiting until it is final) and GET /events."""

from __future__ import annotations

import asyncio
import time

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response

from kubeface.images import get_image
from kubeface.images.status import FINAL_STATUSES
from kubeface.outcome_stream import HubFull, OutcomeHub, Subscription, SubscriptionClosed
from kubeface.sse import BadIds, busy, events_response, parse_ids
from receiver.errors import ApiError
from receiver.state import ReceiverState

router = APIRouter()

MAX_WAIT_SECONDS = 60


def _state(request: Request) -> ReceiverState:
    return request.app.state.receiver


def _hub(request: Request) -> OutcomeHub:
    return request.app.state.outcomes


@router.get("/image/{image_id}", response_model=None)
async def read_image(image_id: int, request: Request, wait: float = 0) -> dict | Response:
    """The image; with `wait=SECONDS` (at most 60), answered once it is final or the time is up."""
    if not 0 <= wait <= MAX_WAIT_SECONDS:
        raise ApiError(422, f"wait is in seconds, from 0 to {MAX_WAIT_SECONDS}", limit=MAX_WAIT_SECONDS)
    db = _state(request).db
    if wait == 0:
        return _found(image_id, await run_in_threadpool(get_image, db, image_id))
    try:
        # Subscribed before the first read, so an outcome committed in between is not missed.
        with _hub(request).subscribe([image_id]) as subscription:
            image = _found(image_id, await run_in_threadpool(get_image, db, image_id))
            if image["status"] in FINAL_STATUSES:
                return image
            await _until_outcome(subscription, wait)
    except HubFull as exc:
        return busy(str(exc))
    except SubscriptionClosed:
        pass  # shutting down: answer with the current state
    return _found(image_id, await run_in_threadpool(get_image, db, image_id))


async def _until_outcome(subscription: Subscription, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while (left := deadline - time.monotonic()) > 0:
        try:
            if await subscription.next(left) is not None:
                return  # only this id's events come, and each is a final outcome
        except SubscriptionClosed:
            return
        await asyncio.sleep(0)


def _found(image_id: int, image: dict | None) -> dict:
    if image is None:
        raise ApiError(404, f"no image with id {image_id}")
    return image


@router.get("/events")
async def events(request: Request, ids: str | None = None) -> Response:
    """Outcomes as Server-Sent Events (`curl -N`), of the images in `ids=1,2,3` or of all."""
    try:
        wanted = parse_ids(ids)
    except BadIds as exc:
        raise ApiError(422, str(exc)) from exc
    return events_response(_hub(request), wanted, request.app.state.events_heartbeat_seconds)
