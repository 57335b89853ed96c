"""Writes for clusters of unknown faces (kubeface/clustering.py). Only the clustering worker
places faces and merges clusters; operators (through the receiver) ignore a cluster, take a face
out, or enrol it."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from kubeface.audit import AuditAction, record
from kubeface.db import Cursor, Database


def start_cluster(db: Database, face_id: int) -> int:
    """A new cluster holding only `face_id`; its id."""

    def write(cur: Cursor) -> int:
        cur.execute("INSERT INTO face_clusters () VALUES ()")
        cluster_id = int(cur.lastrowid)
        _place(cur, face_id, cluster_id)
        return cluster_id

    return db.run_transaction(write)


def join_cluster(db: Database, face_id: int, cluster_id: int, absorbed: Sequence[int]) -> None:
    """`face_id` joins `cluster_id`; the faces of the `absorbed` clusters move into it.

    The merged cluster stays hidden only if every cluster in it was ignored."""

    def write(cur: Cursor) -> None:
        if absorbed:
            cur.execute("UPDATE faces SET cluster_id = %s WHERE cluster_id IN %s", (cluster_id, absorbed))
            cur.execute("SELECT 1 FROM face_clusters WHERE id IN %s AND NOT ignored", (absorbed,))
            if cur.fetchone():
                cur.execute("UPDATE face_clusters SET ignored = 0 WHERE id = %s", (cluster_id,))
            cur.execute("DELETE FROM face_clusters WHERE id IN %s", (absorbed,))
        _place(cur, face_id, cluster_id)

    db.run_transaction(write)


def _place(cur: Cursor, face_id: int, cluster_id: int) -> None:
    cur.execute("UPDATE faces SET cluster_id = %s WHERE id = %s", (cluster_id, face_id))
    cur.execute("UPDATE face_encodings SET clustered = 1 WHERE face_id = %s", (face_id,))


def ignore_cluster(db: Database, cluster_id: int, *, actor: str) -> bool:
    """Hide a cluster from the "Unknown people" page; False when there is no such cluster."""
    with db.transaction() as cur:
        cur.execute("UPDATE face_clusters SET ignored = 1 WHERE id = %s", (cluster_id,))
        cur.execute("SELECT 1 FROM face_clusters WHERE id = %s", (cluster_id,))
        if cur.fetchone() is None:
            return False
        record(
            cur, actor=actor, action=AuditAction.CLUSTER_IGNORE, target=f"cluster:{cluster_id}", details={}
        )
    return True


def remove_face_from_cluster(db: Database, cluster_id: int, face_id: int, *, actor: str) -> bool:
    """Take a face out of its cluster for good: its encoding is erased, so it is never placed
    again. False when the face is not in that cluster."""
    with db.transaction() as cur:
        cur.execute(
            "UPDATE faces SET cluster_id = NULL WHERE id = %s AND cluster_id = %s", (face_id, cluster_id)
        )
        if cur.rowcount != 1:
            return False
        cur.execute("DELETE FROM face_encodings WHERE face_id = %s", (face_id,))
        record(
            cur,
            actor=actor,
            action=AuditAction.CLUSTER_REMOVE_FACE,
            target=f"cluster:{cluster_id}",
            details={"face_id": face_id},
        )
    return True


def mark_cluster_enrolled(
    db: Database, cluster_id: int, person_id: int, *, actor: str, details: Mapping[str, object]
) -> None:
    """Record that an operator enrolled the cluster as `person_id` (its images are re-queued)."""
    with db.transaction() as cur:
        cur.execute("UPDATE face_clusters SET person_id = %s WHERE id = %s", (person_id, cluster_id))
        record(
            cur,
            actor=actor,
            action=AuditAction.CLUSTER_ENROL,
            target=f"cluster:{cluster_id}",
            details={"person_id": person_id, **details},
        )
