"""The one client of the recognizer: Identify and Encode with a deadline, failures as domain errors.

The processor guards its calls with a circuit breaker (kubeface/recognizer_breaker.py); the
receiver's enrolment calls without one (see `connect`).
"""

from __future__ import annotations

from contextlib import AbstractContextManager, nullcontext
from typing import Any, Protocol

import grpc

from kubeface.logs import REQUEST_ID_HEADER, request_id_var
from kubeface.proto import recognizer_pb2 as pb
from kubeface.recognition_errors import error_for
from kubeface.recognizer_pool import RecognizerConnections
from kubeface.settings import Settings


class CallGuard(Protocol):
    """Decides whether a call may go out and learns from how it ended (a circuit breaker)."""

    @property
    def is_open(self) -> bool: ...

    def guard(self) -> AbstractContextManager[None]: ...

    def close(self) -> None: ...


class RecognizerClient:
    """Calls one recognizer address; shared by all of a process's threads."""

    def __init__(
        self, connections: RecognizerConnections, timeout_seconds: float, guard: CallGuard | None = None
    ) -> None:
        self.connections = connections
        self._timeout = timeout_seconds
        self._guard = guard

    @property
    def is_open(self) -> bool:
        """True while the breaker refuses calls (never, without a breaker)."""
        return self._guard is not None and self._guard.is_open

    def identify(self, image_path: str) -> pb.IdentifyResponse:
        """Who is in the image; raises ImageRejected or RecognizerUnavailable (BreakerOpen)."""
        reply: pb.IdentifyResponse = self._call("Identify", pb.IdentifyRequest(image_path=image_path))
        return reply

    def encode(self, image_path: str, box: pb.Box | None = None) -> pb.EncodeResponse:
        """The encoding of the face in `box` (upright pixels, as Identify gives them), or of the
        largest face without one; raises ImageRejected (NoFaceFound, or ImageUnusable for a box
        outside the picture) or RecognizerUnavailable."""
        request = pb.EncodeRequest(image_path=image_path, box=box)
        reply: pb.EncodeResponse = self._call("Encode", request)
        return reply

    def _call(self, method: str, request: object) -> Any:
        with nullcontext() if self._guard is None else self._guard.guard():
            try:
                return self.connections.call(
                    method, request, timeout=self._timeout, metadata=self._metadata()
                )
            except grpc.RpcError as exc:
                raise error_for(exc.code(), exc.details()) from exc

    @staticmethod
    def _metadata() -> list[tuple[str, str]]:
        return [(REQUEST_ID_HEADER, request_id_var.get() or "")]

    def close(self) -> None:
        if self._guard is not None:
            self._guard.close()
        self.connections.close()


def connect(settings: Settings, connections: int = 1) -> RecognizerClient:
    """A client without a breaker: each failed call answers at once with its own error.

    One connection by default: enrolment and clustering call now and then, one at a time."""
    pool = RecognizerConnections(settings.recognizer_address, connections)
    return RecognizerClient(pool, settings.recognizer_timeout_seconds)
