"""The status counts of the results page, kept current by the outcome stream.

A page load reads them (one GROUP BY); the live updates that outcome events trigger in every
open tab use the counts moved by those events instead, re-read at most every `max_age_seconds`
(posts and re-queues publish no outcome, so only a re-read sees them).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from kubeface.db import Database
from kubeface.images import ImageStatus
from kubeface.outcomes import OutcomeEvent

FROM_STATUS = ImageStatus.PROCESSING.value  # an outcome is committed only by the processor holding the row


class LiveCounts:
    def __init__(
        self,
        db: Database,
        read: Callable[[Database], dict[str, int]],
        max_age_seconds: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._db, self._read, self._max_age, self._clock = db, read, max_age_seconds, clock
        self._lock = threading.Lock()  # pages read in worker threads, events arrive on the loop
        self._counts: dict[str, int] | None = None
        self._read_at = 0.0

    def read_now(self) -> dict[str, int]:
        """Counts read from MySQL now (a page load)."""
        counts = self._read(self._db)
        with self._lock:
            self._counts, self._read_at = dict(counts), self._clock()
        return counts

    def current(self) -> dict[str, int]:
        """The counts as the events left them; read again once they are older than the limit."""
        with self._lock:
            if self._counts is not None and self._clock() - self._read_at < self._max_age:
                return dict(self._counts)
        return self.read_now()

    def on_outcome(self, event: OutcomeEvent) -> None:
        with self._lock:
            if self._counts is None:
                return
            if self._counts.get(FROM_STATUS, 0) > 0:
                self._counts[FROM_STATUS] -= 1
            self._counts[event.status] = self._counts.get(event.status, 0) + 1
