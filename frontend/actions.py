"""Operator actions as plain HTML forms: POST, then a redirect (303) to a page that says what happened.

They work without JavaScript. On failure the page answers with the receiver's reason instead.
Only a signed-in operator reaches them (frontend/access.py); bodies are capped before they are read.
"""

from __future__ import annotations

from urllib.parse import parse_qs, urlencode

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, RedirectResponse

from frontend.operator import ActionFailed
from frontend.pages import render
from frontend.params import required_id
from frontend.state import FrontendState
from kubeface.images import REQUEUEABLE_STATUSES, ImageStatus

router = APIRouter()


async def read_form(request: Request) -> dict[str, str]:
    """A urlencoded form's fields (first value of each); no multipart parser is needed for these."""
    body = await request.body()  # at most MAX_FORM_BYTES: the access middleware refused more
    fields = parse_qs(body.decode("utf-8", "replace"), keep_blank_values=True)
    return {name: values[0] for name, values in fields.items()}


def action_failed_page(request: Request, exc: ActionFailed, back: str) -> HTMLResponse:
    return render(request, "action_failed.html", {"error": str(exc), "back": back}, exc.status_code)


def redirect_done(path: str, **query: object) -> RedirectResponse:
    return RedirectResponse(f"{path}?{urlencode(query)}", status_code=303)


@router.post("/image/{image_id}/requeue")
async def requeue(request: Request, image_id: int):
    state: FrontendState = request.app.state.frontend
    back = f"/image/{image_id}"
    try:
        await run_in_threadpool(state.receiver.requeue, image_id)
    except ActionFailed as exc:
        return action_failed_page(request, exc, back)
    return redirect_done(back, done="requeued")


@router.post("/images/requeue")
async def requeue_all(request: Request):
    state: FrontendState = request.app.state.frontend
    status = (await read_form(request)).get("status", "")
    if status not in REQUEUEABLE_STATUSES:
        choices = " or ".join(s.value for s in REQUEUEABLE_STATUSES)
        return action_failed_page(request, ActionFailed(f"choose {choices} to re-queue", 422), "/")
    try:
        answer = await run_in_threadpool(state.receiver.requeue_all, status)
    except ActionFailed as exc:
        return action_failed_page(request, exc, "/")
    done = "requeued_more" if answer.get("remaining") else "requeued_all"
    return redirect_done("/", done=done, n=answer.get("count", 0), status=ImageStatus.QUEUED.value)


@router.post("/image/{image_id}/enroll")
async def enrol(request: Request, image_id: int):
    """Enrol the image's face as a new person; a taken name is refused, never merged."""
    state: FrontendState = request.app.state.frontend
    form = await read_form(request)
    back = f"/image/{image_id}"
    name, face = form.get("name", "").strip(), required_id("face", form.get("face", ""))
    if not name:
        return action_failed_page(
            request, ActionFailed("type the person's name, then press Enrol", 422), back
        )
    try:
        answer = await run_in_threadpool(state.receiver.enrol_from_image, image_id, name, face)
    except ActionFailed as exc:
        if exc.status_code == 409:
            exc = ActionFailed(
                f"{name!r} is already enrolled. To add this face to them, choose them under"
                " “Add to existing person” for this face; to enrol someone else, use another name",
                409,
            )
        return action_failed_page(request, exc, back)
    return redirect_done(back, done="enrolled", name=answer.get("name", name), n=answer.get("requeued", 0))


@router.post("/image/{image_id}/add-to-person")
async def add_to_person(request: Request, image_id: int):
    """Add the image's face to a person the operator picked: the explicit way to add to someone."""
    state: FrontendState = request.app.state.frontend
    form = await read_form(request)
    back = f"/image/{image_id}"
    person_id = required_id("person_id", form.get("person_id", ""))
    face = required_id("face", form.get("face", ""))
    try:
        answer = await run_in_threadpool(state.receiver.add_face_to_person, image_id, person_id, face)
    except ActionFailed as exc:
        return action_failed_page(request, exc, back)
    return redirect_done(back, done="added", name=answer.get("name", ""), n=answer.get("requeued", 0))
