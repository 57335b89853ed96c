"""The frontend's status counts: read on a page load, moved by outcome events, re-read when old."""

from __future__ import annotations

from frontend.live_counts import LiveCounts
from kubeface.outcomes import OutcomeEvent


class Reads:
    def __init__(self) -> None:
        self.calls = 0
        self.counts = {"QUEUED": 1, "PROCESSING": 2, "PROCESSED": 3, "PENDING": 0, "FAILED": 0}

    def __call__(self, _db) -> dict[str, int]:
        self.calls += 1
        return dict(self.counts)


def test_events_move_the_counts_without_reading_them_again():
    reads, now = Reads(), [0.0]
    counts = LiveCounts(object(), reads, max_age_seconds=10, clock=lambda: now[0])
    counts.read_now()
    counts.on_outcome(OutcomeEvent(1, "PENDING"))
    counts.on_outcome(OutcomeEvent(2, "PROCESSED"))
    assert counts.current() == {"QUEUED": 1, "PROCESSING": 0, "PROCESSED": 4, "PENDING": 1, "FAILED": 0}
    assert reads.calls == 1


def test_counts_older_than_the_limit_are_read_again():
    reads, now = Reads(), [0.0]
    counts = LiveCounts(object(), reads, max_age_seconds=10, clock=lambda: now[0])
    counts.current()
    reads.counts["QUEUED"] = 7  # a post: no outcome event says so
    now[0] = 11.0
    assert counts.current()["QUEUED"] == 7
    assert reads.calls == 2
