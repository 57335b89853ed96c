"""What the receiver's routes need, built once at start and closed at shutdown."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from kubeface.db import Database
from kubeface.queue import NsqPublisher
from kubeface.recognizer_client import RecognizerClient, connect
from kubeface.settings import Settings
from kubeface.uploads import UploadStore
from receiver.ingest import IngestBatcher

log = logging.getLogger(__name__)


@dataclass
class ReceiverState:
    db: Database
    publisher: NsqPublisher
    # No breaker: see connect(). Enrolment is rare and interactive; a refused call is a 503 at once.
    recognizer: RecognizerClient
    image_root: Path
    max_batch: int
    ingest: IngestBatcher
    uploads: UploadStore

    @classmethod
    def from_settings(cls, settings: Settings) -> ReceiverState:
        db, publisher = Database(settings), NsqPublisher(settings)
        return cls(
            db=db,
            publisher=publisher,
            recognizer=connect(settings),
            image_root=settings.resolved_image_root,
            max_batch=settings.receiver_max_batch,
            ingest=IngestBatcher(
                db,
                publisher,
                image_root=settings.resolved_image_root,
                crash_after_commit=settings.fault_crash_after_commit,
            ),
            uploads=UploadStore(settings.resolved_image_root, settings.upload_max_bytes),
        )

    def requeue(self, transition: Callable[[Database], list[int]], reason: str) -> list[int]:
        """Run a named re-queue of kubeface.images and publish exactly the ids this call won."""
        won = transition(self.db)
        # If the publish fails the rows stay QUEUED; the retry job re-publishes them after the lease.
        self.publisher.publish(won)
        for image_id in won:
            log.info("image re-queued", extra={"image_id": image_id, "reason": reason})
        return won

    def close(self) -> None:
        self.ingest.close()  # first: it still commits and publishes what is queued
        self.publisher.close()
        self.recognizer.close()
        self.db.close()
