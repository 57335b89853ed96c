"""What the frontend's routes need, built once at start and closed at shutdown."""

from __future__ import annotations

from dataclasses import dataclass

from frontend.access import operator_credentials
from frontend.live_counts import LiveCounts
from frontend.operator import ReceiverClient
from frontend.thumbnails import Thumbnailer
from kubeface.db import Database
from kubeface.images import status_counts
from kubeface.settings import Settings
from kubeface.system import Endpoints


@dataclass
class FrontendState:
    db: Database
    thumbnails: Thumbnailer
    receiver: ReceiverClient
    endpoints: Endpoints
    page_size: int
    search_window: int
    search_max_seconds: float
    operator: bool  # an operator login is set: the write forms are shown and accepted
    counts: LiveCounts

    @classmethod
    def from_settings(cls, settings: Settings) -> FrontendState:
        db = Database(settings)
        return cls(
            db=db,
            thumbnails=Thumbnailer.from_settings(settings),
            receiver=ReceiverClient(settings),
            endpoints=Endpoints.from_settings(settings),
            page_size=settings.frontend_page_size,
            search_window=settings.frontend_search_window,
            search_max_seconds=settings.frontend_search_max_seconds,
            operator=operator_credentials(settings) is not None,
            counts=LiveCounts(db, status_counts, settings.frontend_counts_max_age_seconds),
        )

    def close(self) -> None:
        self.receiver.close()
        self.db.close()
