"""Retrying what a service does at start while its cause can still go away."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, TypeVar

from kubeface.schema import may_pass

if TYPE_CHECKING:
    from tenacity import RetryCallState, Retrying

log = logging.getLogger(__name__)

T = TypeVar("T")
_FIRST_WAIT = 0.2  # seconds before the second attempt; each wait after doubles, up to 5 s


def retry_at_start(
    step: Callable[[], T],
    what: str,
    *,
    timeout_seconds: float | None = None,
    stop: threading.Event | None = None,
) -> T:
    """Run `step` until it succeeds, backing off up to 5 s while its error may pass by itself
    (kubeface.schema.may_pass); any other error is raised at once.

    A service waits as long as it takes (`timeout_seconds=None`), so the order in which the
    database, the migration and the services start never matters; a command gives up in time.
    `stop` (set by SIGTERM) ends the wait, raising the last error.
    """
    started = time.monotonic()
    try:
        # Most starts find what they wait for ready: one call, without tenacity, which imports
        # tornado when that is installed (issue 15: a tenth of `kubeface status`).
        return step()
    except Exception as exc:
        if not may_pass(exc):
            raise
        log.warning(
            "%s: not ready yet, retrying",
            what,
            extra={"attempt": 1, "retry_in_seconds": _FIRST_WAIT, "cause": repr(exc)},
        )
        # Tenacity's first attempt follows at once: without this wait, a failed start was tried
        # again immediately, and only then did the backoff begin.
        _pause(stop)(_FIRST_WAIT)
        if stop is not None and stop.is_set():
            raise
    left = None if timeout_seconds is None else max(0.0, timeout_seconds - (time.monotonic() - started))
    return _retrying(what, left, stop)(step)


def _retrying(what: str, timeout_seconds: float | None, stop: threading.Event | None) -> Retrying:
    """Tenacity's loop for the attempts after the first (which retry_at_start made itself)."""
    from tenacity import (
        Retrying,
        retry_if_exception,
        stop_after_delay,
        stop_any,
        stop_never,
        stop_when_event_set,
        wait_exponential,
    )
    from tenacity.stop import stop_base

    stops: list[stop_base] = [stop_never if timeout_seconds is None else stop_after_delay(timeout_seconds)]
    if stop is not None:
        stops.append(stop_when_event_set(stop))

    def log_wait(state: RetryCallState) -> None:
        log.warning(
            "%s: not ready yet, retrying",
            what,
            extra={
                "attempt": state.attempt_number + 1,
                "retry_in_seconds": round(state.upcoming_sleep, 2),
                "cause": repr(state.outcome.exception()) if state.outcome else None,
            },
        )

    return Retrying(
        retry=retry_if_exception(may_pass),
        wait=wait_exponential(multiplier=_FIRST_WAIT, max=5),
        stop=stop_any(*stops),
        before_sleep=log_wait,
        sleep=_pause(stop),
        reraise=True,
    )


def _pause(stop: threading.Event | None) -> Callable[[float], None]:
    """A sleep that SIGTERM (`stop`, when given) cuts short."""
    event = stop or threading.Event()

    def pause(seconds: float) -> None:
        event.wait(seconds)

    return pause
