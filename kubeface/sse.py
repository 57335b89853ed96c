"""Server-Sent Events of the outcome stream (`GET /events`), shared by the receiver and frontend."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import AbstractContextManager

from starlette.responses import JSONResponse, Response, StreamingResponse

from kubeface.ids import id_from_text
from kubeface.outcome_stream import HubFull, OutcomeHub, Subscription, SubscriptionClosed

MAX_FILTER_IDS = 1000
# What a client told to come back later (503) should wait, in seconds.
RETRY_AFTER_SECONDS = 5


class BadIds(ValueError):
    """`?ids=` is not a comma-separated list of image ids."""


def parse_ids(raw: str | None) -> list[int] | None:
    """`1,2,3` as ids; None or empty: every image."""
    if raw is None or not raw.strip():
        return None
    parts = [part.strip() for part in raw.split(",") if part.strip()]
    if len(parts) > MAX_FILTER_IDS:
        raise BadIds(f"ids names at most {MAX_FILTER_IDS} images; open more streams or none (all)")
    ids = [id_from_text(part) for part in parts]
    if not all(ids):  # None, or 0: no image has it
        raise BadIds("ids must be image ids separated by commas, e.g. ids=1,2,3")
    return [image_id for image_id in ids if image_id]


def busy(message: str) -> JSONResponse:
    """503: this replica holds as many waiters and streams as it may."""
    return JSONResponse(
        {"error": f"{message}; retry in {RETRY_AFTER_SECONDS} s"},
        status_code=503,
        headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
    )


def events_response(hub: OutcomeHub, ids: list[int] | None, heartbeat_seconds: float) -> Response:
    """A text/event-stream of the outcomes of `ids` (None: all), or a 503 when the hub is full."""
    try:
        subscribing = hub.subscribe(ids)
        subscription = subscribing.__enter__()
    except HubFull as exc:
        return busy(str(exc))
    except SubscriptionClosed as exc:
        return busy(str(exc))
    return StreamingResponse(
        _frames(subscribing, subscription, heartbeat_seconds),
        media_type="text/event-stream",
        # Proxies (nginx) must pass each frame on at once, not buffer the stream.
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )


async def _frames(
    subscribing: AbstractContextManager[Subscription], subscription: Subscription, heartbeat_seconds: float
) -> AsyncIterator[str]:
    try:
        yield ": connected\n\n"
        while True:
            try:
                event = await subscription.next(heartbeat_seconds)
            except SubscriptionClosed as exc:
                yield f"event: closed\ndata: {json.dumps({'reason': str(exc)})}\n\n"
                return
            if event is None:
                yield ": heartbeat\n\n"  # a comment: EventSource ignores it, proxies see traffic
            else:
                yield f"event: outcome\nid: {event.image_id}\ndata: {json.dumps(event.as_json())}\n\n"
    finally:
        subscribing.__exit__(None, None, None)
