"""retry_at_start: the first attempt runs without tenacity; the waits after it still back off."""

from __future__ import annotations

import threading

import pymysql
import pytest

from kubeface.startup import retry_at_start


class _Step:
    """Fails with `errors` in turn, then answers "ready" (a fake: unit test)."""

    def __init__(self, *errors: Exception) -> None:
        self.errors = list(errors)
        self.calls = 0

    def __call__(self) -> str:
        self.calls += 1
        if self.errors:
            raise self.errors.pop(0)
        return "ready"


def _down() -> pymysql.err.OperationalError:
    return pymysql.err.OperationalError(2003, "Can't connect to MySQL server")


def test_a_ready_step_runs_once():
    step = _Step()
    assert retry_at_start(step, "database", timeout_seconds=5) == "ready"
    assert step.calls == 1


def test_a_step_that_may_pass_is_tried_again_until_it_works():
    step = _Step(_down(), _down())
    assert retry_at_start(step, "database", timeout_seconds=30) == "ready"
    assert step.calls == 3


def test_an_error_that_will_not_pass_is_raised_at_once():
    step = _Step(ValueError("bad setting"))
    with pytest.raises(ValueError, match="bad setting"):
        retry_at_start(step, "database", timeout_seconds=30)
    assert step.calls == 1


def test_after_the_first_attempt_an_error_that_will_not_pass_is_raised_at_once():
    step = _Step(_down(), ValueError("bad setting"))
    with pytest.raises(ValueError, match="bad setting"):
        retry_at_start(step, "database", timeout_seconds=30)
    assert step.calls == 2


def test_a_stopped_wait_raises_the_last_error():
    stop = threading.Event()
    stop.set()
    step = _Step(*[_down() for _ in range(100)])
    with pytest.raises(pymysql.err.OperationalError):
        retry_at_start(step, "database", stop=stop)
    assert step.calls == 1


def test_a_failed_first_attempt_is_followed_by_a_wait_not_a_second_attempt_at_once(monkeypatch):
    events: list[str] = []
    step = _Step(_down(), _down())

    def call() -> str:
        events.append("attempt")
        return step()

    def wait(self: threading.Event, seconds: float | None = None) -> bool:
        events.append("wait")
        return self.is_set()

    monkeypatch.setattr(threading.Event, "wait", wait)
    assert retry_at_start(call, "database", timeout_seconds=30) == "ready"
    assert events == ["attempt", "wait", "attempt", "wait", "attempt"]
