"""Reads of `person` and `person_images` for the API, the CLI and pages: who is known, with what."""

from __future__ import annotations

from typing import Any

from kubeface.db import Database
from kubeface.images import recognised_counts

PAGE_MAX = 500


def list_people(db: Database, *, after_id: int = 0, limit: int = 100) -> list[dict[str, Any]]:
    """People in id order after `after_id`, each with how many photos and recognised images."""
    with db.transaction() as cur:
        cur.execute(
            "SELECT p.id, p.name, p.created_at, COUNT(pi.id) AS photos FROM person p"
            " LEFT JOIN person_images pi ON pi.person_id = p.id"
            " WHERE p.id > %s GROUP BY p.id ORDER BY p.id LIMIT %s",
            (after_id, min(limit, PAGE_MAX)),
        )
        rows = cur.fetchall()
    images = recognised_counts(db, [int(row["id"]) for row in rows])
    return [_person(row, images[int(row["id"])]) for row in rows]


def get_person(db: Database, person_id: int) -> dict[str, Any] | None:
    """The person with their photos (ids and paths) and counts; None if there is none."""
    with db.transaction() as cur:
        cur.execute("SELECT id, name, created_at FROM person WHERE id = %s", (person_id,))
        row = cur.fetchone()
        if row is None:
            return None
        cur.execute(
            "SELECT id, path, encoded, created_at FROM person_images WHERE person_id = %s ORDER BY id",
            (person_id,),
        )
        photos = [
            {
                "id": int(p["id"]),
                "path": p["path"],
                "encoded": bool(p["encoded"]),
                "created_at": p["created_at"],
            }
            for p in cur.fetchall()
        ]
    person = _person({**row, "photos": len(photos)}, recognised_counts(db, [person_id])[person_id])
    return {**person, "photos": photos}


def _person(row: dict[str, Any], images: int) -> dict[str, Any]:
    return {
        "id": int(row["id"]),
        "name": row["name"],
        "created_at": row["created_at"],
        "photo_count": int(row["photos"]),
        "image_count": images,
    }
