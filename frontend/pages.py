"""The read-only pages: results table, one image, people, one person, the system panel, previews."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, HTMLResponse, Response
from fastapi.templating import Jinja2Templates

from frontend.params import optional_id, optional_status, search_text
from frontend.queries import (
    ResultsFilter,
    image_path,
    people,
    person_names,
    person_page,
    photo_path,
    results_page,
)
from frontend.state import FrontendState
from frontend.thumbnails import PreviewUnavailable
from kubeface.images import ImageStatus, get_image
from kubeface.system import RECENT_MINUTES, take_snapshot

TEMPLATES = Jinja2Templates(directory=Path(__file__).parent / "templates")
THUMBNAIL_SIDE = 96  # pixels; shown at 64 CSS px, sharp on 1.5x screens
PICTURE_SIDE = 1400  # the image page's picture; boxes are drawn over it in the original's units
# Shown when a file is gone or unreadable: the row's status and detail say why.
PLACEHOLDER = (
    '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 64 64" width="64" height="64">'
    '<rect width="64" height="64" fill="#e9ecef"/><path d="M16 16l32 32M48 16L16 48" stroke="#6c757d"'
    ' stroke-width="3"/></svg>'
)
PEOPLE_LISTED = 1000  # the add-to-a-person choice; more people than this need POST /person/{id}/photos
NOTICES = {
    "requeued": "Image re-queued; it will be processed again shortly.",
    "requeued_all": "{n} image(s) re-queued.",
    "requeued_more": "{n} image(s) re-queued; more remain, press the button again.",
    "enrolled": "Enrolled {name}; {n} image(s) are being re-identified, this one included.",
    "cluster_enrolled": "Enrolled {name}; {n} image(s) are being re-identified.",
    "cluster_ignored": "Cluster hidden.",
    "cluster_face_removed": "Face taken out of its cluster.",
    "added": "Added this face to {name}; {n} image(s) are being re-identified, this one included.",
    "renamed": "Renamed to {name}.",
    "merged": "Merged into {name}; {n} image(s) are being re-identified.",
    "photo_removed": "Photo removed; {n} image(s) are being re-identified.",
    "erased": "Erased {name} (photos, encodings, thumbnails); {n} image(s) are being re-identified.",
}

router = APIRouter()


def _state(request: Request) -> FrontendState:
    return request.app.state.frontend


def notice(request: Request) -> str | None:
    """The message for a finished action; a fixed text, so a crafted link cannot say anything else."""
    template = NOTICES.get(request.query_params.get("done", ""))
    n = request.query_params.get("n", "0")
    if template is None or not (n.isascii() and n.isdigit()):
        return None
    return template.format(n=n, name=request.query_params.get("name", ""))


def render(request: Request, template: str, context: dict, status_code: int = 200) -> HTMLResponse:
    # `operator`: the write forms are shown only where they would be accepted.
    shared = {"notice": notice(request), "operator": _state(request).operator}
    return TEMPLATES.TemplateResponse(request, template, {**shared, **context}, status_code=status_code)


def _counts(request: Request, state: FrontendState) -> dict[str, int]:
    """A page load reads the counts; a live update (live.js, after an outcome event, in every
    open tab) takes the counts the events moved, re-read at most every few seconds."""
    return state.counts.current() if request.headers.get("X-Live") else state.counts.read_now()


def not_found(request: Request, what: str) -> HTMLResponse:
    return render(request, "not_found.html", {"what": what}, status_code=404)


@router.get("/", response_class=HTMLResponse)
def results(
    request: Request, status: str = "", q: str = "", person: str = "", before: str = "", after: str = ""
):
    state = _state(request)
    flt = ResultsFilter(
        optional_status(status),
        search_text(q),
        optional_id("before", before),
        optional_id("after", after),
        optional_id("person", person),
    )
    page = results_page(state.db, flt, state.page_size, state.search_window, state.search_max_seconds)
    context = {
        "page": page,
        # A live update (live.js, after an outcome event) takes the counts the events moved.
        "counts": _counts(request, state),
        "filter": flt,
        "statuses": list(ImageStatus),
        "q": q,
    }
    return render(request, "results.html", context)


@router.get("/image/{image_id}", response_class=HTMLResponse)
def image(request: Request, image_id: int):
    state = _state(request)
    found = get_image(state.db, image_id)
    if found is None:
        return not_found(request, f"image {image_id}")
    width: int | None
    height: int | None
    try:
        width, height = state.thumbnails.size(found["path"])
    except PreviewUnavailable:
        width = height = None
    # Each face has its enrol forms; the add-to-a-person one lists everyone. Read-only: no forms.
    known = person_names(state.db, PEOPLE_LISTED) if state.operator and found["faces"] else []
    return render(
        request,
        "image.html",
        {"image": found, "width": width, "height": height, "people": known},
    )


@router.get("/people", response_class=HTMLResponse)
def people_list(request: Request):
    return render(request, "people.html", {"people": people(_state(request).db)})


@router.get("/person/{person_id}", response_class=HTMLResponse)
def person(request: Request, person_id: int):
    found = person_page(_state(request).db, person_id, limit=200)
    if found is None:
        return not_found(request, f"person {person_id}")
    others = person_names(_state(request).db, PEOPLE_LISTED) if _state(request).operator else []
    others = [p for p in others if p["id"] != person_id]
    return render(request, "person.html", {"person": found, "others": others})


@router.get("/system", response_class=HTMLResponse)
def system(request: Request):
    state = _state(request)
    snapshot = take_snapshot(state.endpoints, state.db)
    return render(
        request,
        "system.html",
        {"snap": snapshot, "counts": _counts(request, state), "recent_minutes": RECENT_MINUTES},
    )


def _preview(state: FrontendState, relative: str | None, side: int) -> Response:
    if relative is None:
        return Response(PLACEHOLDER, media_type="image/svg+xml", status_code=404)
    try:
        cached = state.thumbnails.preview(relative, side)
    except PreviewUnavailable:
        return Response(PLACEHOLDER, media_type="image/svg+xml", headers={"cache-control": "no-store"})
    # The URL names a database row whose file may be replaced; keep browsers' copies short-lived.
    return FileResponse(cached, media_type="image/jpeg", headers={"cache-control": "private, max-age=60"})


@router.get("/image/{image_id}/thumbnail")
def image_thumbnail(request: Request, image_id: int) -> Response:
    state = _state(request)
    return _preview(state, image_path(state.db, image_id), THUMBNAIL_SIDE)


@router.get("/image/{image_id}/picture")
def image_picture(request: Request, image_id: int) -> Response:
    state = _state(request)
    return _preview(state, image_path(state.db, image_id), PICTURE_SIDE)


@router.get("/photo/{person_image_id}/thumbnail")
def photo_thumbnail(request: Request, person_image_id: int) -> Response:
    state = _state(request)
    relative = photo_path(state.db, person_image_id)
    if relative is None:  # erased or removed: its row is gone, so is its preview
        return Response(PLACEHOLDER, media_type="image/svg+xml", status_code=404)
    # Enrolment photos are never written to the disk cache: erasing a person must leave no
    # thumbnail of them behind, and no browser may keep one either.
    try:
        jpeg = state.thumbnails.preview_bytes(relative, THUMBNAIL_SIDE * 2)
    except PreviewUnavailable:
        return Response(PLACEHOLDER, media_type="image/svg+xml", headers={"cache-control": "no-store"})
    return Response(jpeg, media_type="image/jpeg", headers={"cache-control": "no-store"})
