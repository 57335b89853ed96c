"""Calls to the recognizer over gRPC, guarded by a pybreaker circuit breaker.

The breaker opens after `breaker_fail_max` consecutive transient failures. While it is open, a
prober pings the standard grpc.health.v1 service, doubling its wait after each failed ping up
to a cap, and closes the breaker as soon as a ping answers SERVING.
"""

from __future__ import annotations

import logging
import threading

import grpc
import pybreaker
from grpc_health.v1 import health_pb2, health_pb2_grpc
from prometheus_client import Counter, Gauge

from kubeface.logs import REQUEST_ID_HEADER, request_id_var
from kubeface.proto import recognizer_pb2 as pb
from kubeface.proto import recognizer_pb2_grpc as pb_grpc
from kubeface.recognizer_channel import recognizer_channel
from kubeface.settings import Settings

log = logging.getLogger(__name__)

BREAKER_OPEN = Gauge("processor_breaker_open", "1 while the recognizer circuit breaker is open")
BREAKER_TRANSITIONS = Counter(
    "processor_breaker_transitions_total", "Recognizer breaker state changes", ["to_state"]
)
HEALTH_PINGS = Counter(
    "processor_breaker_health_pings_total", "Health pings while the breaker is open", ["result"]
)

# Codes that mean "this image is bad": the row fails and the breaker does not count them.
IMAGE_ERROR_CODES = {
    grpc.StatusCode.NOT_FOUND,
    grpc.StatusCode.INVALID_ARGUMENT,
    grpc.StatusCode.PERMISSION_DENIED,
    grpc.StatusCode.FAILED_PRECONDITION,
}
# Never trip the breaker on its own, however long the recognizer is down: only the prober closes it.
_NO_AUTOMATIC_HALF_OPEN_SECONDS = 10 * 365 * 24 * 3600


class ImageRejected(Exception):
    """The recognizer refused the image itself (missing, unreadable, outside the root)."""

    def __init__(self, code: grpc.StatusCode, detail: str) -> None:
        super().__init__(detail)
        self.code = code


class RecognizerUnavailable(Exception):
    """A transient failure: the recognizer is down, slow, or the breaker is open.

    `str()` keeps the whole cause for the logs; gRPC's details name the addresses it tried (pod
    IPs, ports), so what a row's `detail` may show is `public`: the status code alone.
    """

    def __init__(self, message: str, public: str) -> None:
        super().__init__(message)
        self.public = public


class BreakerOpen(RecognizerUnavailable):
    pass


class _HealthProber(pybreaker.CircuitBreakerListener):
    """Wakes when the breaker opens and pings health until it answers SERVING."""

    def __init__(self, channel: grpc.Channel, settings: Settings) -> None:
        self._health = health_pb2_grpc.HealthStub(channel)
        self._initial = settings.breaker_probe_initial_seconds
        self._cap = settings.breaker_probe_max_seconds
        self._opened = threading.Event()
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, name="breaker-prober", daemon=True)
        self.breaker: pybreaker.CircuitBreaker | None = None

    def start(self, breaker: pybreaker.CircuitBreaker) -> None:
        self.breaker = breaker
        self._thread.start()

    def stop(self) -> None:
        self._stopping.set()
        self._opened.set()

    def state_change(self, cb, old_state, new_state) -> None:
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
            if self._stopping.is_set():
                return
            self._opened.clear()
            delay = self._initial
            while self.breaker.current_state == pybreaker.STATE_OPEN:
                if self._stopping.wait(delay):
                    return
                if self._ping():
                    self.breaker.close()
                    break
                delay = min(delay * 2, self._cap)

    def _ping(self) -> bool:
        try:
            reply = self._health.Check(health_pb2.HealthCheckRequest(service=""), timeout=2.0)
        except grpc.RpcError as exc:
            HEALTH_PINGS.labels("error").inc()
            log.info("recognizer health ping failed: %s", exc.code().name)
            return False
        serving = reply.status == health_pb2.HealthCheckResponse.SERVING
        HEALTH_PINGS.labels("serving" if serving else "not_serving").inc()
        return serving


class RecognizerClient:
    """Identify calls with a deadline, through the breaker; shared by all of a process's workers."""

    def __init__(self, settings: Settings) -> None:
        self._channel = recognizer_channel(settings.recognizer_address)
        self._stub = pb_grpc.RecognizerStub(self._channel)
        self._timeout = settings.recognizer_timeout_seconds
        self._prober = _HealthProber(self._channel, settings)
        self.breaker = pybreaker.CircuitBreaker(
            fail_max=settings.breaker_fail_max,
            reset_timeout=_NO_AUTOMATIC_HALF_OPEN_SECONDS,
            exclude=[ImageRejected],
            listeners=[self._prober],
            name="recognizer",
        )
        self._prober.start(self.breaker)

    @property
    def is_open(self) -> bool:
        return self.breaker.current_state == pybreaker.STATE_OPEN

    def identify(self, image_path: str) -> pb.IdentifyResponse:
        try:
            # `calling()` runs the RPC outside the breaker's lock, so workers are not serialised.
            with self.breaker.calling():
                return self._identify(image_path)
        except pybreaker.CircuitBreakerError as exc:
            raise BreakerOpen(
                f"recognizer circuit breaker is open: {exc}", "recognizer circuit breaker is open"
            ) from exc

    def _identify(self, image_path: str) -> pb.IdentifyResponse:
        try:
            return self._stub.Identify(
                pb.IdentifyRequest(image_path=image_path),
                timeout=self._timeout,
                metadata=[(REQUEST_ID_HEADER, request_id_var.get() or "")],
            )
        except grpc.RpcError as exc:
            if exc.code() in IMAGE_ERROR_CODES:
                raise ImageRejected(exc.code(), exc.details() or exc.code().name) from exc
            raise RecognizerUnavailable(
                f"recognizer call failed: {exc.code().name}: {exc.details()}",
                f"recognizer call failed: {exc.code().name}",
            ) from exc

    def close(self) -> None:
        self._prober.stop()
        self._channel.close()
