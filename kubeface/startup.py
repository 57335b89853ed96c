"""Retrying what a service does at start while its cause can still go away."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import TypeVar

from tenacity import (
    RetryCallState,
    Retrying,
    retry_if_exception,
    stop_after_delay,
    stop_any,
    stop_never,
    stop_when_event_set,
    wait_exponential,
)
from tenacity.stop import stop_base

from kubeface.schema import may_pass

log = logging.getLogger(__name__)

T = TypeVar("T")


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
    stops: list[stop_base] = [stop_never if timeout_seconds is None else stop_after_delay(timeout_seconds)]
    if stop is not None:
        stops.append(stop_when_event_set(stop))

    def log_wait(state: RetryCallState) -> None:
        log.warning(
            "%s: not ready yet, retrying",
            what,
            extra={
                "attempt": state.attempt_number,
                "retry_in_seconds": round(state.upcoming_sleep, 2),
                "cause": repr(state.outcome.exception()) if state.outcome else None,
            },
        )

    retrying = Retrying(
        retry=retry_if_exception(may_pass),
        wait=wait_exponential(multiplier=0.2, max=5),
        stop=stop_any(*stops),
        before_sleep=log_wait,
        sleep=_sleep if stop is None else _waiting_on(stop),
        reraise=True,
    )
    return retrying(step)


def _sleep(seconds: float) -> None:
    threading.Event().wait(seconds)


def _waiting_on(stop: threading.Event) -> Callable[[float], None]:
    """A sleep that SIGTERM (`stop`) cuts short."""

    def pause(seconds: float) -> None:
        stop.wait(seconds)

    return pause
