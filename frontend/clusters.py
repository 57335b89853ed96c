"""The "Unknown people" page: clusters of faces that matched nobody, and the operator's forms.

Each face is shown cropped from the image's picture preview by an SVG viewBox in the picture's
own pixels (the recognizer's boxes), so no new image is decoded per face. The forms call the
receiver (frontend/operator.py); only a signed-in operator sees or reaches them (access.py).
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse

from frontend.actions import action_failed_page, read_form, redirect_done
from frontend.operator import ActionFailed
from frontend.pages import PEOPLE_LISTED, render
from frontend.params import required_id
from frontend.queries import person_names
from frontend.state import FrontendState
from frontend.thumbnails import PreviewUnavailable
from kubeface.images.clusters import ClusterFace, list_clusters

router = APIRouter()

CLUSTERS_SHOWN = 50
BACK = "/unknown"


def _crop(state: FrontendState, face: ClusterFace) -> dict[str, object]:
    """The face and the frame its box is in: the upright picture's width and height."""
    width: int | None
    height: int | None
    try:
        width, height = state.thumbnails.size(face.path)
    except PreviewUnavailable:
        width = height = None
    box = (face.left, face.top, max(face.right - face.left, 1), max(face.bottom - face.top, 1))
    return {"face": face, "width": width, "height": height, "view": " ".join(map(str, box))}


@router.get("/unknown", response_class=HTMLResponse)
def unknown_people(request: Request):
    state: FrontendState = request.app.state.frontend
    clusters = [
        {"cluster": c, "crops": [_crop(state, f) for f in c.faces]}
        for c in list_clusters(state.db, limit=CLUSTERS_SHOWN)
    ]
    # "Enrol as…" an existing person is its own form, never a side effect of typing a taken name.
    people = person_names(state.db, PEOPLE_LISTED) if state.operator and clusters else []
    return render(request, "unknown.html", {"clusters": clusters, "people": people})


@router.post("/cluster/{cluster_id}/enroll")
async def enrol_cluster(request: Request, cluster_id: int):
    """Enrol the cluster under a new name, or add it to the person picked."""
    state: FrontendState = request.app.state.frontend
    form = await read_form(request)
    name, person = form.get("name", "").strip(), form.get("person_id", "")
    if not name and not person:
        message = "type the person's name, or pick an existing person, then press Enrol"
        return action_failed_page(request, ActionFailed(message, 422), BACK)
    try:
        if person:
            answer = await run_in_threadpool(
                state.receiver.add_cluster_to_person, cluster_id, required_id("person_id", person)
            )
        else:
            answer = await run_in_threadpool(state.receiver.enrol_cluster, cluster_id, name)
    except ActionFailed as exc:
        return action_failed_page(request, exc, BACK)
    return redirect_done(
        BACK, done="cluster_enrolled", name=answer.get("name", name), n=answer.get("requeued", 0)
    )


@router.post("/cluster/{cluster_id}/ignore")
async def ignore_cluster(request: Request, cluster_id: int):
    state: FrontendState = request.app.state.frontend
    try:
        await run_in_threadpool(state.receiver.ignore_cluster, cluster_id)
    except ActionFailed as exc:
        return action_failed_page(request, exc, BACK)
    return redirect_done(BACK, done="cluster_ignored")


@router.post("/cluster/{cluster_id}/faces/{face_id}/remove")
async def remove_face(request: Request, cluster_id: int, face_id: int):
    state: FrontendState = request.app.state.frontend
    try:
        await run_in_threadpool(state.receiver.remove_cluster_face, cluster_id, face_id)
    except ActionFailed as exc:
        return action_failed_page(request, exc, BACK)
    return redirect_done(BACK, done="cluster_face_removed")
