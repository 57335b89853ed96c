"""The reads on clusters of unknown faces: the clustering worker's, the API's and the page's.

Writes are in kubeface/images/transitions.py; the encodings (biometric data) are read only by
the clustering worker (`face_encodings`, which the frontend's account cannot read).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from kubeface.db import Database
from kubeface.encodings import encodings_from_bytes

# Faces shown (and offered for enrolment) per cluster: the largest boxes first.
FACES_PER_CLUSTER = 8


@dataclass(frozen=True)
class ClusterFace:
    face_id: int
    image_id: int
    path: str
    top: int
    right: int
    bottom: int
    left: int

    def as_json(self) -> dict[str, object]:
        box = {"top": self.top, "right": self.right, "bottom": self.bottom, "left": self.left}
        return {"face_id": self.face_id, "image_id": self.image_id, "path": self.path, "box": box}


@dataclass(frozen=True)
class Cluster:
    id: int
    size: int
    ignored: bool
    faces: list[ClusterFace]  # the largest FACES_PER_CLUSTER

    def as_json(self) -> dict[str, object]:
        return {
            "id": self.id,
            "size": self.size,
            "ignored": self.ignored,
            "faces": [face.as_json() for face in self.faces],
        }


def unplaced_faces(db: Database, limit: int) -> tuple[list[int], np.ndarray]:
    """Unknown faces the worker has not placed yet, oldest first: (face ids, encodings)."""
    with db.transaction() as cur:
        cur.execute(
            "SELECT face_id, encoding FROM face_encodings WHERE clustered = 0 ORDER BY face_id LIMIT %s",
            (limit,),
        )
        rows = cur.fetchall()
    return [int(r["face_id"]) for r in rows], encodings_from_bytes([r["encoding"] for r in rows])


def placed_faces(db: Database, after_face_id: int, limit: int) -> tuple[list[int], np.ndarray]:
    """One page of the faces placed in a cluster, by face id: the worker re-loads them at start."""
    with db.transaction() as cur:
        cur.execute(
            "SELECT e.face_id, e.encoding FROM face_encodings e JOIN faces f ON f.id = e.face_id"
            " WHERE e.clustered = 1 AND e.face_id > %s AND f.cluster_id IS NOT NULL"
            " ORDER BY e.face_id LIMIT %s",
            (after_face_id, limit),
        )
        rows = cur.fetchall()
    return [int(r["face_id"]) for r in rows], encodings_from_bytes([r["encoding"] for r in rows])


def clusters_of(db: Database, face_ids: Sequence[int]) -> dict[int, int]:
    """face id -> cluster id, for those of the faces still in a cluster."""
    with db.transaction() as cur:
        cur.execute(
            "SELECT id, cluster_id FROM faces WHERE id IN %s AND cluster_id IS NOT NULL", (list(face_ids),)
        )
        return {int(r["id"]): int(r["cluster_id"]) for r in cur.fetchall()}


def cluster_sizes(db: Database, cluster_ids: Iterable[int]) -> dict[int, int]:
    ids = list(cluster_ids)
    if not ids:
        return {}
    with db.transaction() as cur:
        cur.execute(
            "SELECT cluster_id, COUNT(*) AS n FROM faces WHERE cluster_id IN %s GROUP BY cluster_id", (ids,)
        )
        return {int(r["cluster_id"]): int(r["n"]) for r in cur.fetchall()}


def list_clusters(db: Database, *, include_ignored: bool = False, limit: int = 100) -> list[Cluster]:
    """Clusters not yet enrolled, largest first, each with its largest faces."""
    with db.transaction() as cur:
        cur.execute(
            "SELECT c.id, c.ignored, COUNT(*) AS size FROM face_clusters c"
            " JOIN faces f ON f.cluster_id = c.id"
            " WHERE c.person_id IS NULL AND (%s OR NOT c.ignored)"
            " GROUP BY c.id, c.ignored ORDER BY size DESC, c.id LIMIT %s",
            (include_ignored, limit),
        )
        rows = cur.fetchall()
    return [
        Cluster(int(r["id"]), int(r["size"]), bool(r["ignored"]), cluster_faces(db, int(r["id"])))
        for r in rows
    ]


def get_cluster(db: Database, cluster_id: int) -> Cluster | None:
    with db.transaction() as cur:
        cur.execute(
            "SELECT c.id, c.ignored, (SELECT COUNT(*) FROM faces f WHERE f.cluster_id = c.id) AS size"
            " FROM face_clusters c WHERE c.id = %s",
            (cluster_id,),
        )
        row = cur.fetchone()
    if row is None:
        return None
    return Cluster(int(row["id"]), int(row["size"]), bool(row["ignored"]), cluster_faces(db, cluster_id))


def cluster_faces(db: Database, cluster_id: int, limit: int = FACES_PER_CLUSTER) -> list[ClusterFace]:
    """The cluster's faces with the largest boxes first (the best to enrol from)."""
    with db.transaction() as cur:
        cur.execute(
            "SELECT f.id, f.image_id, i.path, f.box_top, f.box_right, f.box_bottom, f.box_left"
            " FROM faces f JOIN images i ON i.id = f.image_id WHERE f.cluster_id = %s"
            " ORDER BY (f.box_bottom - f.box_top) * (f.box_right - f.box_left) DESC, f.id LIMIT %s",
            (cluster_id, limit),
        )
        rows = cur.fetchall()
    return [
        ClusterFace(
            int(r["id"]),
            int(r["image_id"]),
            r["path"],
            r["box_top"],
            r["box_right"],
            r["box_bottom"],
            r["box_left"],
        )
        for r in rows
    ]


def cluster_image_ids(db: Database, cluster_id: int) -> list[int]:
    with db.transaction() as cur:
        cur.execute(
            "SELECT DISTINCT image_id FROM faces WHERE cluster_id = %s ORDER BY image_id", (cluster_id,)
        )
        return [int(r["image_id"]) for r in cur.fetchall()]
