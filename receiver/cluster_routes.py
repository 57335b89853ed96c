"""Clusters of unknown faces: list them, enrol one as a person, ignore one, take a face out.

The clustering worker (kubeface/cluster_worker.py) builds the clusters; these are the operator's
edits. Each write records an audit entry in its own transaction (kubeface/images/transitions.py).
"""

from __future__ import annotations

import logging

import numpy as np
from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, ConfigDict, Field, model_validator

from kubeface.audit import AuditAction, AuditEntry
from kubeface.images import requeue_final_image
from kubeface.images.cluster_transitions import (
    ignore_cluster,
    mark_cluster_enrolled,
    remove_face_from_cluster,
)
from kubeface.images.clusters import Cluster, ClusterFace, cluster_image_ids, get_cluster, list_clusters
from kubeface.people import EnrolledImage, add_photos, create_person
from kubeface.proto import recognizer_pb2 as pb
from kubeface.recognition_errors import ImageRejected, NoFaceFound
from receiver.auth import actor_of
from receiver.errors import ApiError
from receiver.people_routes import enrolled, refuse_taken_name
from receiver.routes import PersonName
from receiver.state import ReceiverState

log = logging.getLogger(__name__)

router = APIRouter(tags=["clusters"])

# Faces of a cluster enrolled as photos: the largest boxes, which encode best.
ENROL_FACES = 3


class EnrolCluster(BaseModel):
    """Either `name` (a new person; 409 if taken) or `person_id` (add the faces to that person)."""

    model_config = ConfigDict(extra="forbid")
    name: PersonName | None = None
    person_id: int | None = Field(default=None, ge=1, description="an existing person to add the faces to")

    @model_validator(mode="after")
    def _one_target(self) -> EnrolCluster:
        if (self.name is None) == (self.person_id is None):
            raise ValueError("give either name (to create a person) or person_id (to add to one), not both")
        return self


def _state(request: Request) -> ReceiverState:
    return request.app.state.receiver


def _cluster(state: ReceiverState, cluster_id: int) -> Cluster:
    cluster = get_cluster(state.db, cluster_id)
    if cluster is None:
        raise ApiError(404, f"no cluster with id {cluster_id}; GET /clusters lists them")
    return cluster


@router.get("/clusters")
def get_clusters(
    request: Request, include_ignored: bool = False, limit: int = Query(100, ge=1, le=1000)
) -> dict:
    """Clusters of unknown faces, largest first, each with its largest faces."""
    clusters = list_clusters(_state(request).db, include_ignored=include_ignored, limit=limit)
    return {"clusters": [c.as_json() for c in clusters]}


@router.post("/cluster/{cluster_id}/enroll", status_code=201)
def enrol_cluster(cluster_id: int, body: EnrolCluster, request: Request) -> dict:
    """Enrol the cluster's largest faces as a new person (`name`) or an existing one
    (`person_id`), then re-identify the cluster's images."""
    state = _state(request)
    cluster = _cluster(state, cluster_id)
    if not cluster.faces:
        raise ApiError(
            409, f"cluster {cluster_id} holds no face any more; GET /clusters lists the current ones"
        )
    if body.name is not None:
        refuse_taken_name(state, body.name)
    photos = [EnrolledImage(face.path, _encode(state, face)) for face in cluster.faces[:ENROL_FACES]]
    actor = actor_of(request)
    origin = {"cluster_id": cluster_id}
    if body.person_id is not None:
        enrolment = add_photos(
            state.db, body.person_id, photos, AuditEntry(actor, AuditAction.ADD_PHOTO, details=origin)
        )
    else:
        assert body.name is not None  # the body's validator asks for one of the two
        enrolment = create_person(
            state.db, body.name, photos, AuditEntry(actor, AuditAction.ENROL, details=origin)
        )
    mark_cluster_enrolled(
        state.db,
        cluster_id,
        enrolment.person_id,
        actor=actor,
        details={"faces": [face.face_id for face in cluster.faces[:ENROL_FACES]]},
    )
    images = cluster_image_ids(state.db, cluster_id)
    won = state.requeue(
        lambda db: [i for image_id in images for i in requeue_final_image(db, image_id)], "cluster enrolled"
    )
    log.info("cluster enrolled", extra={"cluster_id": cluster_id, "person_id": enrolment.person_id})
    answer = enrolled(state, enrolment, photos, created=body.person_id is None, actor=actor)
    answer["requeued"] += len(won)
    answer["cluster_id"] = cluster_id
    return answer


def _encode(state: ReceiverState, face: ClusterFace) -> np.ndarray:
    box = pb.Box(top=face.top, right=face.right, bottom=face.bottom, left=face.left)
    try:
        return np.asarray(state.recognizer.encode(face.path, box).encoding)
    except (NoFaceFound, ImageRejected) as exc:
        raise ApiError(
            422,
            f"cannot encode face {face.face_id} of image {face.image_id} any more: {exc};"
            f" take it out with DELETE /cluster/{{id}}/faces/{face.face_id} and try again",
        ) from exc
    # RecognizerUnavailable: 503 (receiver/errors.py).


@router.post("/cluster/{cluster_id}/ignore")
def post_ignore_cluster(cluster_id: int, request: Request) -> dict:
    """Hide the cluster from GET /clusters (and the "Unknown people" page)."""
    if not ignore_cluster(_state(request).db, cluster_id, actor=actor_of(request)):
        raise ApiError(404, f"no cluster with id {cluster_id}; GET /clusters lists them")
    return {"id": cluster_id, "ignored": True}


@router.delete("/cluster/{cluster_id}/faces/{face_id}")
def delete_cluster_face(cluster_id: int, face_id: int, request: Request) -> dict:
    """Take a face out of the cluster; it is never placed in a cluster again."""
    if not remove_face_from_cluster(_state(request).db, cluster_id, face_id, actor=actor_of(request)):
        raise ApiError(404, f"face {face_id} is not in cluster {cluster_id}; GET /clusters lists its faces")
    return {"id": cluster_id, "removed_face": face_id}
