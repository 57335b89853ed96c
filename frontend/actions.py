"""Operator actions as plain HTML forms: POST, then a redirect (303) to a page that says what happened.

They work without JavaScript. On failure the page answers with the receiver's reason instead.
"""

from __future__ import annotations

from urllib.parse import parse_qs, urlencode

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, RedirectResponse

from frontend.operator import ActionFailed
from frontend.pages import render
from frontend.state import FrontendState

router = APIRouter()

MAX_FORM_BYTES = 4096


async def _form(request: Request) -> dict[str, str]:
    """A urlencoded form's fields (first value of each); no multipart parser is needed for these."""
    body = await request.body()
    fields = parse_qs(body[:MAX_FORM_BYTES].decode("utf-8", "replace"), keep_blank_values=True)
    return {name: values[0] for name, values in fields.items()}


def _failed(request: Request, exc: ActionFailed, back: str) -> HTMLResponse:
    return render(request, "action_failed.html", {"error": str(exc), "back": back}, exc.status_code)


def _done(path: str, **query: object) -> RedirectResponse:
    return RedirectResponse(f"{path}?{urlencode(query)}", status_code=303)


@router.post("/image/{image_id}/requeue")
async def requeue(request: Request, image_id: int):
    state: FrontendState = request.app.state.frontend
    back = f"/image/{image_id}"
    try:
        await run_in_threadpool(state.receiver.requeue, image_id)
    except ActionFailed as exc:
        return _failed(request, exc, back)
    return _done(back, done="requeued")


@router.post("/images/requeue")
async def requeue_all(request: Request):
    state: FrontendState = request.app.state.frontend
    status = (await _form(request)).get("status", "")
    if status not in ("FAILED", "PENDING"):
        return _failed(request, ActionFailed("choose FAILED or PENDING to re-queue", 422), "/")
    try:
        answer = await run_in_threadpool(state.receiver.requeue_all, status)
    except ActionFailed as exc:
        return _failed(request, exc, "/")
    done = "requeued_more" if answer.get("remaining") else "requeued_all"
    return _done("/", done=done, n=answer.get("count", 0), status="QUEUED")


@router.post("/image/{image_id}/enroll")
async def enrol(request: Request, image_id: int):
    state: FrontendState = request.app.state.frontend
    form = await _form(request)
    back = f"/image/{image_id}"
    name, face = form.get("name", "").strip(), form.get("face", "0")
    if not name:
        return _failed(request, ActionFailed("type the person's name, then press Enrol", 422), back)
    if not face.isdigit():
        return _failed(request, ActionFailed("the face to enrol is missing; reload the page", 422), back)
    try:
        answer = await run_in_threadpool(state.receiver.enrol_from_image, image_id, name, int(face))
    except ActionFailed as exc:
        return _failed(request, exc, back)
    others = [i for i in answer.get("requeued", []) if i != image_id]
    return _done(back, done="enrolled", name=answer.get("name", name), n=len(others))
