"""GET /events on the frontend: the outcome stream for open pages, as Server-Sent Events."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from kubeface.sse import BadIds, events_response, parse_ids

router = APIRouter()


@router.get("/events")
async def events(request: Request, ids: str = "") -> Response:
    """Outcomes of the images in `ids=1,2,3` (or of all): the pages update without reloading."""
    try:
        wanted = parse_ids(ids)
    except BadIds as exc:
        return Response(f"{exc}\n", status_code=400, media_type="text/plain")
    return events_response(request.app.state.outcomes, wanted, request.app.state.events_heartbeat_seconds)
