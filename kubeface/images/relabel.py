"""Writes to `images` and `faces` when the people they name change: erasure, a removed photo, a
merge. Each runs inside the people change's transaction (kubeface/people.py)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from kubeface.images.counts import counted, move_person_counts
from kubeface.images.requeues import BACK_TO_QUEUE

# Final images go back to the queue at once, with no person; QUEUED/PROCESSING ones are already on
# their way and will be identified again against the gallery as it is then.
_REQUEUE_FINAL_IN = (
    f"UPDATE images SET {BACK_TO_QUEUE}, person_id = NULL"
    " WHERE id = %s AND status IN ('PROCESSED', 'PENDING', 'FAILED')"
)


def _requeue_final_in(cur: Any, image_ids: Sequence[int]) -> list[int]:
    """Move these images back to QUEUED inside the caller's transaction; the ids this call won."""
    won = []
    ids = sorted(set(image_ids))  # id order: two writers lock rows in the same order
    with counted(cur, ids):
        for image_id in ids:
            cur.execute(_REQUEUE_FINAL_IN, (image_id,))
            if cur.rowcount == 1:
                won.append(image_id)
    return won


def _images_naming(cur: Any, column: str, value_id: int) -> list[int]:
    """Images with a face whose `column` is `value_id` (column: one of this module's names)."""
    cur.execute(f"SELECT DISTINCT image_id FROM faces WHERE {column} = %s", (value_id,))
    return [int(row["image_id"]) for row in cur.fetchall()]


@dataclass(frozen=True)
class Unlinked:
    faces_unlinked: int
    requeued: list[int]  # the image ids this call moved back to QUEUED; the caller publishes them


def unlink_erased_person(cur: Any, person_id: int) -> Unlinked:
    """Before a person is erased, in the same transaction: their faces name nobody (also as
    nearest or runner-up), and every image that named them is re-identified."""
    cur.execute("SELECT id FROM images WHERE person_id = %s", (person_id,))
    named = [int(row["id"]) for row in cur.fetchall()] + _images_naming(cur, "person_id", person_id)
    faces = 0
    for column, also in (
        ("person_id", ", person_image_id = NULL, distance = NULL"),
        ("nearest_person_id", ", nearest_distance = NULL"),
        ("runner_up_person_id", ", margin = NULL"),
    ):
        cur.execute(f"UPDATE faces SET {column} = NULL{also} WHERE {column} = %s", (person_id,))
        faces += cur.rowcount
    return Unlinked(faces, _requeue_final_in(cur, named))


def unlink_removed_photo(cur: Any, person_image_id: int) -> Unlinked:
    """Before one enrolment photo is removed, in the same transaction: the faces matched to it
    name nobody, and their images are re-identified (the match may have been that photo's)."""
    images = _images_naming(cur, "person_image_id", person_image_id)
    cur.execute(
        "UPDATE faces SET person_id = NULL, person_image_id = NULL, distance = NULL"
        " WHERE person_image_id = %s",
        (person_image_id,),
    )
    return Unlinked(cur.rowcount, _requeue_final_in(cur, images))


def relabel_merged_person(cur: Any, person_id: int, into: int, photo_ids: Mapping[int, int]) -> Unlinked:
    """In the merge's transaction: faces and images naming `person_id` now name `into`, matched
    photos point at their moved rows (`photo_ids`: old id -> new id). An image that now names
    `into` on two faces breaks one identity per photo: it is re-identified."""
    for old, new in photo_ids.items():
        cur.execute("UPDATE faces SET person_image_id = %s WHERE person_image_id = %s", (new, old))
    faces = 0
    for column in ("person_id", "nearest_person_id", "runner_up_person_id"):
        cur.execute(f"UPDATE faces SET {column} = %s WHERE {column} = %s", (into, person_id))
        faces += cur.rowcount
    cur.execute("UPDATE images SET person_id = %s WHERE person_id = %s", (into, person_id))
    move_person_counts(cur, person_id, into)
    cur.execute(
        "SELECT image_id FROM faces WHERE person_id = %s GROUP BY image_id HAVING COUNT(*) > 1", (into,)
    )
    twice = [int(row["image_id"]) for row in cur.fetchall()]
    return Unlinked(faces, _requeue_final_in(cur, twice))
