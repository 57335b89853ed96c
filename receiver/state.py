"""What the receiver's routes need, built once at start and closed at shutdown."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import grpc

from kubeface.db import Database
from kubeface.proto import recognizer_pb2_grpc as pb_grpc
from kubeface.queue import NsqPublisher
from kubeface.recognizer_channel import recognizer_channel
from kubeface.settings import Settings
from receiver.ingest import IngestBatcher

log = logging.getLogger(__name__)


@dataclass
class ReceiverState:
    db: Database
    publisher: NsqPublisher
    recognizer: pb_grpc.RecognizerStub
    channel: grpc.Channel
    image_root: Path
    max_batch: int
    recognizer_timeout: float
    ingest: IngestBatcher

    @classmethod
    def from_settings(cls, settings: Settings) -> ReceiverState:
        channel = recognizer_channel(settings.recognizer_address)
        db, publisher = Database(settings), NsqPublisher(settings)
        return cls(
            db=db,
            publisher=publisher,
            recognizer=pb_grpc.RecognizerStub(channel),
            channel=channel,
            image_root=settings.resolved_image_root,
            max_batch=settings.receiver_max_batch,
            recognizer_timeout=settings.recognizer_timeout_seconds,
            ingest=IngestBatcher(db, publisher, crash_after_commit=settings.fault_crash_after_commit),
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
        self.channel.close()
        self.db.close()
