"""Announces committed outcomes on the outcome stream (kubeface/outcomes.py)."""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from kubeface.db import Database
from kubeface.images import ImageStatus
from kubeface.outcomes import OutcomeEvent, OutcomePublisher

log = logging.getLogger(__name__)


class OutcomeAnnouncer:
    """`ImageRows.announce`: publish after commit; a failure is logged, the row stays the truth."""

    def __init__(self, db: Database, publisher: OutcomePublisher) -> None:
        self._db = db
        self._publisher = publisher

    def __call__(self, image_id: int, status: ImageStatus, person_id: int | None, detail: str | None) -> None:
        event = OutcomeEvent(
            image_id=image_id,
            status=status.value,
            person_id=person_id,
            person=self._person_name(image_id, person_id),
            detail=detail,
            finished_at=datetime.now(UTC).isoformat(timespec="seconds"),
        )
        self._publisher.publish(event)

    def _person_name(self, image_id: int, person_id: int | None) -> str | None:
        if person_id is None:
            return None
        try:
            with self._db.transaction() as cur:
                cur.execute("SELECT name FROM person WHERE id = %s", (person_id,))
                row = cur.fetchone()
        except Exception as exc:  # noqa: BLE001 - the event is still worth sending without the name
            log.warning("person name not read for the outcome event: %s", exc, extra={"image_id": image_id})
            return None
        return str(row["name"]) if row else None
