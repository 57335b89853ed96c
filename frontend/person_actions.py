"""Operator forms on a person's page: rename, merge into another person, remove a photo, erase.

Plain HTML forms (POST, then a 303 to a page that says what happened); erasing asks first, on a
page of its own, so it works without JavaScript. Only a signed-in operator reaches the POSTs
(frontend/access.py); anonymous visitors are never shown the forms.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse

from frontend.actions import action_failed_page, read_form, redirect_done
from frontend.operator import ActionFailed
from frontend.pages import not_found, render
from frontend.params import required_id
from frontend.queries import person_page
from frontend.state import FrontendState

router = APIRouter()


def _state(request: Request) -> FrontendState:
    return request.app.state.frontend


@router.post("/person/{person_id}/rename")
async def rename(request: Request, person_id: int):
    name = (await read_form(request)).get("name", "").strip()
    back = f"/person/{person_id}"
    if not name:
        return action_failed_page(request, ActionFailed("type the new name, then press Rename", 422), back)
    try:
        await run_in_threadpool(_state(request).receiver.rename_person, person_id, name)
    except ActionFailed as exc:
        return action_failed_page(request, exc, back)
    return redirect_done(back, done="renamed", name=name)


@router.post("/person/{person_id}/merge")
async def merge(request: Request, person_id: int):
    into = required_id("into", (await read_form(request)).get("into", ""))
    try:
        answer = await run_in_threadpool(_state(request).receiver.merge_person, person_id, into)
    except ActionFailed as exc:
        return action_failed_page(request, exc, f"/person/{person_id}")
    return redirect_done(
        f"/person/{into}", done="merged", name=answer.get("name", ""), n=answer.get("images_requeued", 0)
    )


@router.post("/person/{person_id}/photos/{photo_id}/remove")
async def remove_photo(request: Request, person_id: int, photo_id: int):
    back = f"/person/{person_id}"
    try:
        answer = await run_in_threadpool(_state(request).receiver.remove_photo, person_id, photo_id)
    except ActionFailed as exc:
        return action_failed_page(request, exc, back)
    return redirect_done(back, done="photo_removed", n=answer.get("images_requeued", 0))


@router.get("/person/{person_id}/erase", response_class=HTMLResponse)
def confirm_erase(request: Request, person_id: int):
    """The confirmation step: what erasing removes, and the one button that does it."""
    if not _state(request).operator:
        return not_found(request, f"erasing person {person_id} (operators only)")
    found = person_page(_state(request).db, person_id, limit=1)
    if found is None:
        return not_found(request, f"person {person_id}")
    return render(request, "person_erase.html", {"person": found})


@router.post("/person/{person_id}/erase")
async def erase(request: Request, person_id: int):
    if (await read_form(request)).get("confirm") != "erase":
        return redirect_done(f"/person/{person_id}/erase")  # no confirmation: ask for it
    try:
        receipt = await run_in_threadpool(_state(request).receiver.erase_person, person_id)
    except ActionFailed as exc:
        return action_failed_page(request, exc, f"/person/{person_id}")
    return redirect_done(
        "/people", done="erased", name=receipt.get("name", ""), n=receipt.get("images_requeued", 0)
    )
