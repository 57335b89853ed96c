"""The retry job's audit record: one per pass that re-queued something, none for an empty pass."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator

import pytest

from kubeface import retry


class RecordingDb:
    """Records each audit INSERT made in a transaction."""

    def __init__(self) -> None:
        self.inserts: list[tuple] = []

    @contextlib.contextmanager
    def transaction(self) -> Iterator[RecordingDb]:
        yield self

    def execute(self, sql: str, params: tuple) -> None:
        self.inserts.append(params)


class NoPublisher:
    def publish(self, ids: list[int]) -> None:
        pass


def _run(monkeypatch: pytest.MonkeyPatch, failed: list[int], *, dry_run: bool = False) -> RecordingDb:
    for name in ("requeue_stale_processing", "requeue_stale_queued", "requeue_pending_after_enrolment"):
        monkeypatch.setattr(retry, name, lambda db, **_: [])
    monkeypatch.setattr(retry, "requeue_failed_due", lambda db, **_: list(failed))
    db = RecordingDb()
    retry.run_retry(
        db,  # type: ignore[arg-type]
        NoPublisher(),  # type: ignore[arg-type]
        max_attempts=3,
        backoff_seconds=0,
        lease_seconds=60,
        batch_size=10,
        dry_run=dry_run,
    )
    return db


def test_an_empty_pass_leaves_no_record(monkeypatch: pytest.MonkeyPatch) -> None:
    # Cron runs the job every minute: a record per empty pass would bury the operators' ones.
    assert _run(monkeypatch, failed=[]).inserts == []


def test_a_pass_that_requeued_is_one_record_with_counts_and_ids(monkeypatch: pytest.MonkeyPatch) -> None:
    [(actor, action, target, details)] = _run(monkeypatch, failed=[7, 9]).inserts
    assert (actor, action, target) == ("retry-job", "retry_pass", "images")
    assert json.loads(details) == {
        "counts": {"failed": 2, "stale_processing": 0, "stale_queued": 0, "pending_after_enrolment": 0},
        "image_ids": {"failed": [7, 9]},
    }


def test_a_dry_run_records_nothing_and_logs_one_line_of_counts(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    # A dry run of full batches named thousands of ids, one log line each, for nothing it did.
    with caplog.at_level("INFO", logger=retry.__name__):
        assert _run(monkeypatch, failed=list(range(1, 501)), dry_run=True).inserts == []
    [line] = caplog.records
    assert line.getMessage() == "retry dry run"
    assert line.would_requeue == {  # type: ignore[attr-defined]
        "failed": 500,
        "stale_processing": 0,
        "stale_queued": 0,
        "pending_after_enrolment": 0,
    }


def test_a_pass_logs_each_image_it_requeued_in_one_line_per_reason(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level("INFO", logger=retry.__name__):
        _run(monkeypatch, failed=list(range(1, 1001)))
    [line] = caplog.records
    assert (line.getMessage(), line.reason, line.image_ids) == (  # type: ignore[attr-defined]
        "images re-queued",
        "failed",
        list(range(1, 1001)),
    )
