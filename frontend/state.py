"""What the frontend's routes need, built once at start and closed at shutdown."""

from __future__ import annotations

from dataclasses import dataclass

from frontend.operator import ReceiverClient
from frontend.thumbnails import Thumbnailer
from kubeface.db import Database
from kubeface.settings import Settings
from kubeface.system import Endpoints


@dataclass
class FrontendState:
    db: Database
    thumbnails: Thumbnailer
    receiver: ReceiverClient
    endpoints: Endpoints
    page_size: int

    @classmethod
    def from_settings(cls, settings: Settings) -> FrontendState:
        return cls(
            db=Database(settings),
            thumbnails=Thumbnailer.from_settings(settings),
            receiver=ReceiverClient(settings),
            endpoints=Endpoints.from_settings(settings),
            page_size=settings.frontend_page_size,
        )

    def close(self) -> None:
        self.receiver.close()
        self.db.close()
