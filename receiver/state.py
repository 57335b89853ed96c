"""What the receiver's routes need, built once at start and closed at shutdown."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import grpc

from kubeface.db import Database
from kubeface.proto import recognizer_pb2_grpc as pb_grpc
from kubeface.queue import NsqPublisher
from kubeface.settings import Settings


@dataclass
class ReceiverState:
    db: Database
    publisher: NsqPublisher
    recognizer: pb_grpc.RecognizerStub
    channel: grpc.Channel
    image_root: Path
    max_batch: int
    recognizer_timeout: float

    @classmethod
    def from_settings(cls, settings: Settings) -> ReceiverState:
        channel = grpc.insecure_channel(
            settings.recognizer_address, options=[("grpc.lb_policy_name", "round_robin")]
        )
        return cls(
            db=Database(settings),
            publisher=NsqPublisher(settings),
            recognizer=pb_grpc.RecognizerStub(channel),
            channel=channel,
            image_root=settings.resolved_image_root,
            max_batch=settings.receiver_max_batch,
            recognizer_timeout=settings.recognizer_timeout_seconds,
        )

    def close(self) -> None:
        self.publisher.close()
        self.channel.close()
        self.db.close()
