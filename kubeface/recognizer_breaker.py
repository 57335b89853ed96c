"""The processor's circuit breaker around recognizer calls (pybreaker), and the prober that closes it.

The breaker opens after `breaker_fail_max` consecutive transient failures. While it is open, a
prober pings the standard grpc.health.v1 service, doubling its wait after each failed ping up
to a cap, and closes the breaker as soon as a ping answers SERVING.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager

import grpc
import pybreaker
from grpc_health.v1 import health_pb2, health_pb2_grpc
from prometheus_client import Counter, Gauge

from kubeface.recognition_errors import BreakerOpen, ImageRejected
from kubeface.recognizer_client import RecognizerClient
from kubeface.recognizer_pool import RecognizerConnections
from kubeface.settings import Settings

log = logging.getLogger(__name__)

BREAKER_OPEN = Gauge("processor_breaker_open", "1 while the recognizer circuit breaker is open")
BREAKER_TRANSITIONS = Counter(
    "processor_breaker_transitions_total", "Recognizer breaker state changes", ["to_state"]
)
HEALTH_PINGS = Counter(
    "processor_breaker_health_pings_total", "Health pings while the breaker is open", ["result"]
)

# Never half-open on a timer, however long the recognizer is down: only the prober closes it.
_NO_AUTOMATIC_HALF_OPEN_SECONDS = 10 * 365 * 24 * 3600


class _HealthProber(pybreaker.CircuitBreakerListener):
    """Wakes when the breaker opens and pings health until it answers SERVING."""

    def __init__(self, channel: grpc.Channel, settings: Settings) -> None:
        self._health = health_pb2_grpc.HealthStub(channel)
        self._initial = settings.breaker_probe_initial_seconds
        self._cap = settings.breaker_probe_max_seconds
        self._opened = threading.Event()
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, name="breaker-prober", daemon=True)
        self._breaker: pybreaker.CircuitBreaker | None = None

    def start(self, breaker: pybreaker.CircuitBreaker) -> None:
        self._breaker = breaker
        self._thread.start()

    def stop(self) -> None:
        self._stopping.set()
        self._opened.set()

    def state_change(
        self,
        cb: pybreaker.CircuitBreaker,
        old_state: pybreaker.CircuitBreakerState | None,
        new_state: pybreaker.CircuitBreakerState,
    ) -> None:
        if old_state is not None and old_state.name == new_state.name:
            # Calls already in flight when the breaker opened fail afterwards and "open" it again.
            return
        BREAKER_TRANSITIONS.labels(new_state.name).inc()
        if new_state.name == pybreaker.STATE_OPEN:
            BREAKER_OPEN.set(1)
            log.warning("recognizer breaker opened", extra={"from_state": getattr(old_state, "name", None)})
            self._opened.set()
        elif new_state.name == pybreaker.STATE_CLOSED:
            BREAKER_OPEN.set(0)
            log.info("recognizer breaker closed")

    def _run(self) -> None:
        while True:
            self._opened.wait()
            if self._stopping.is_set() or self._breaker is None:
                return
            self._opened.clear()
            delay = self._initial
            while self._breaker.current_state == pybreaker.STATE_OPEN:
                if self._stopping.wait(delay):
                    return
                if self._ping():
                    self._breaker.close()
                    break
                delay = min(delay * 2, self._cap)

    def _ping(self) -> bool:
        try:
            reply = self._health.Check(health_pb2.HealthCheckRequest(service=""), timeout=2.0)
        except grpc.RpcError as exc:
            HEALTH_PINGS.labels("error").inc()
            log.info("recognizer health ping failed: %s", exc.code().name)
            return False
        serving: bool = reply.status == health_pb2.HealthCheckResponse.SERVING
        HEALTH_PINGS.labels("serving" if serving else "not_serving").inc()
        return serving


class RecognizerBreaker:
    """A CallGuard: counts transient failures (never a rejected image) and refuses calls while open."""

    def __init__(self, channel: grpc.Channel, settings: Settings) -> None:
        self._prober = _HealthProber(channel, settings)
        self._breaker = pybreaker.CircuitBreaker(
            fail_max=settings.breaker_fail_max,
            reset_timeout=_NO_AUTOMATIC_HALF_OPEN_SECONDS,
            exclude=[ImageRejected],
            listeners=[self._prober],
            name="recognizer",
        )
        self._prober.start(self._breaker)

    @property
    def is_open(self) -> bool:
        return bool(self._breaker.current_state == pybreaker.STATE_OPEN)

    @contextmanager
    def guard(self) -> Iterator[None]:
        try:
            # `calling()` runs the RPC outside the breaker's lock, so workers are not serialised.
            with self._breaker.calling():
                yield
        except pybreaker.CircuitBreakerError as exc:
            raise BreakerOpen(
                f"recognizer circuit breaker is open: {exc}", "recognizer circuit breaker is open"
            ) from exc

    def close(self) -> None:
        self._prober.stop()


def connect_with_breaker(settings: Settings) -> RecognizerClient:
    """The processor's client: calls go through the breaker, spread over the recognizer's processes."""
    pool = RecognizerConnections(settings.recognizer_address, settings.resolved_recognizer_connections)
    breaker = RecognizerBreaker(pool.channels[0], settings)  # any connection tells if it serves
    return RecognizerClient(pool, settings.recognizer_timeout_seconds, breaker)
