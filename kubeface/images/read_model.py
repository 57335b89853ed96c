"""The reads on `images` and `faces` that pages, the CLI and metrics show."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from kubeface.db import Database
from kubeface.images.status import FINAL_STATUSES, ImageStatus

# ix_images_status_queued / ix_images_status_started: how long a row has waited in each status.
_WAITING_SINCE = {ImageStatus.QUEUED: "queued_at", ImageStatus.PROCESSING: "started_at"}


def get_status(db: Database, image_id: int) -> ImageStatus | None:
    with db.transaction() as cur:
        cur.execute("SELECT status FROM images WHERE id = %s", (image_id,))
        row = cur.fetchone()
    return ImageStatus(row["status"]) if row else None


def status_counts(db: Database) -> dict[str, int]:
    """Rows in each status, every status present (0 when none): from the counters that every
    transition keeps (kubeface/images/counts.py), a few rows per status at any table size."""
    with db.transaction() as cur:
        cur.execute("SELECT status, SUM(n) AS n FROM image_counts GROUP BY status")
        found = {str(row["status"]): int(row["n"]) for row in cur.fetchall()}
    return {status.value: found.get(status.value, 0) for status in ImageStatus}


def count_with_status(db: Database, status: ImageStatus) -> int:
    return status_counts(db)[status.value]


def recent_outcomes(db: Database, minutes: int) -> dict[str, int]:
    """Rows that reached a final status lately: one index range per status (status, finished_at)."""
    with db.transaction() as cur:
        cur.execute(
            "SELECT status, COUNT(*) AS n FROM images WHERE status IN %s"
            " AND finished_at > NOW(6) - INTERVAL %s MINUTE GROUP BY status",
            ([s.value for s in FINAL_STATUSES], minutes),
        )
        found = {row["status"]: int(row["n"]) for row in cur.fetchall()}
    return {status.value: found.get(status.value, 0) for status in FINAL_STATUSES}


def oldest_waiting_ages(db: Database) -> dict[str, float]:
    """Seconds the oldest QUEUED and the oldest PROCESSING row have waited (0 when none)."""
    with db.transaction() as cur:
        cur.execute(
            "SELECT 'QUEUED' AS status, TIMESTAMPDIFF(MICROSECOND, MIN(queued_at), NOW(6)) / 1e6 AS age"
            " FROM images WHERE status = 'QUEUED'"
            " UNION ALL SELECT 'PROCESSING', TIMESTAMPDIFF(MICROSECOND, MIN(started_at), NOW(6)) / 1e6"
            " FROM images WHERE status = 'PROCESSING'"
        )
        return {row["status"]: float(row["age"] or 0) for row in cur.fetchall()}


def oldest_waiting(db: Database, limit: int) -> dict[str, list[dict[str, Any]]]:
    """The `limit` oldest QUEUED and PROCESSING rows, from their index without a sort."""
    oldest: dict[str, list[dict[str, Any]]] = {}
    with db.transaction() as cur:
        for status, column in _WAITING_SINCE.items():
            cur.execute(
                f"SELECT id, path, attempts, {column} AS since,"
                f" TIMESTAMPDIFF(SECOND, {column}, NOW(6)) AS age_seconds"
                f" FROM images WHERE status = %s ORDER BY {column} LIMIT %s",
                (status.value, limit),
            )
            oldest[status.value] = list(cur.fetchall())
    return oldest


def paths_by_id(db: Database, ids: list[int]) -> dict[int, str]:
    if not ids:
        return {}
    with db.transaction() as cur:
        cur.execute("SELECT id, path FROM images WHERE id IN %s", (ids,))
        return {int(row["id"]): str(row["path"]) for row in cur.fetchall()}


_TIMINGS = ("decode_ms", "detect_ms", "encode_ms", "match_ms")


def get_image(db: Database, image_id: int) -> dict[str, Any] | None:
    """The row with its person's name, its per-step timings and every face, as the API shows it."""
    with db.transaction() as cur:
        cur.execute(
            "SELECT i.id, i.path, i.status, i.person_id, p.name AS person, i.detail, i.attempts,"
            " i.created_at, i.queued_at, i.started_at, i.finished_at, i.updated_at,"
            " i.decode_ms, i.detect_ms, i.encode_ms, i.match_ms"
            " FROM images i LEFT JOIN person p ON p.id = i.person_id WHERE i.id = %s",
            (image_id,),
        )
        image: dict[str, Any] | None = cur.fetchone()
        if image is None:
            return None
        cur.execute(
            "SELECT f.box_top, f.box_right, f.box_bottom, f.box_left, f.person_id, p.name AS person,"
            " f.distance, f.nearest_person_id, n.name AS nearest_name, f.nearest_distance,"
            " f.runner_up_person_id, r.name AS runner_up_name, f.margin FROM faces f"
            " LEFT JOIN person p ON p.id = f.person_id LEFT JOIN person n ON n.id = f.nearest_person_id"
            " LEFT JOIN person r ON r.id = f.runner_up_person_id WHERE f.image_id = %s ORDER BY f.id",
            (image_id,),
        )
        faces = cur.fetchall()
    steps = {name: image.pop(name) for name in _TIMINGS}
    image["timings"] = None if all(v is None for v in steps.values()) else steps
    image["faces"] = [_face(f) for f in faces]
    _note_names_given_away(image["faces"])
    return image


def _face(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "box": {
            "top": row["box_top"],
            "right": row["box_right"],
            "bottom": row["box_bottom"],
            "left": row["box_left"],
        },
        "person": row["person"],
        "person_id": row["person_id"],
        "distance": row["distance"],
        "nearest": _candidate(row["nearest_person_id"], row["nearest_name"], row["nearest_distance"]),
        "runner_up": _candidate(row["runner_up_person_id"], row["runner_up_name"], row["margin"]),
        "margin": row["margin"],
    }


def _candidate(person_id: int | None, name: str | None, distance: float | None) -> dict[str, Any] | None:
    if person_id is None:
        return None
    return {"person_id": person_id, "name": name, "distance": distance}


def _note_names_given_away(faces: list[dict[str, Any]]) -> None:
    """`nearest_given_to`: the number (from 1) of the face named as this face's nearest person,
    when that is another face: a person appears at most once in a photo."""
    named_as = {f["person_id"]: number for number, f in enumerate(faces, 1) if f["person_id"] is not None}
    for f in faces:
        nearest = f["nearest"]
        taken_by = named_as.get(nearest["person_id"]) if nearest else None
        f["nearest_given_to"] = (
            taken_by if taken_by is not None and f["person_id"] != nearest["person_id"] else None
        )


def recognised_counts(db: Database, person_ids: Sequence[int]) -> dict[int, int]:
    """How many images each person was recognised in (their `person_id`); 0 for none. From the
    counters (kubeface/images/counts.py): a few rows per person however many images name them."""
    if not person_ids:
        return {}
    with db.transaction() as cur:
        cur.execute(
            "SELECT person_id, SUM(n) AS n FROM person_image_counts WHERE person_id IN %s GROUP BY person_id",
            (list(person_ids),),
        )
        found = {int(row["person_id"]): int(row["n"]) for row in cur.fetchall()}
    return {person_id: found.get(person_id, 0) for person_id in person_ids}
