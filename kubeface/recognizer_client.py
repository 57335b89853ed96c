"""The one client of the recognizer: Identify and Encode with a deadline, failures as domain errors.

The processor guards its calls with a circuit breaker (kubeface/recognizer_breaker.py); the
receiver's enrolment calls without one (see `connect`).
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from typing import Protocol, TypeVar

import grpc

from kubeface.logs import REQUEST_ID_HEADER, request_id_var
from kubeface.proto import recognizer_pb2 as pb
from kubeface.proto import recognizer_pb2_grpc as pb_grpc
from kubeface.recognition_errors import error_for
from kubeface.recognizer_channel import recognizer_channel
from kubeface.settings import Settings

_Reply = TypeVar("_Reply")


class CallGuard(Protocol):
    """Decides whether a call may go out and learns from how it ended (a circuit breaker)."""

    @property
    def is_open(self) -> bool: ...

    def guard(self) -> AbstractContextManager[None]: ...

    def close(self) -> None: ...


class RecognizerClient:
    """Calls one recognizer address; shared by all of a process's threads."""

    def __init__(self, channel: grpc.Channel, timeout_seconds: float, guard: CallGuard | None = None) -> None:
        self._channel = channel
        self._stub = pb_grpc.RecognizerStub(channel)  # type: ignore[no-untyped-call]  # generated, untyped
        self._timeout = timeout_seconds
        self._guard = guard

    @property
    def is_open(self) -> bool:
        """True while the breaker refuses calls (never, without a breaker)."""
        return self._guard is not None and self._guard.is_open

    def identify(self, image_path: str) -> pb.IdentifyResponse:
        """Who is in the image; raises ImageRejected or RecognizerUnavailable (BreakerOpen)."""
        reply: pb.IdentifyResponse = self._call(
            self._stub.Identify, pb.IdentifyRequest(image_path=image_path)
        )
        return reply

    def encode(self, image_path: str, box: pb.Box | None = None) -> pb.EncodeResponse:
        """The encoding of the face in `box` (upright pixels, as Identify gives them), or of the
        largest face without one; raises ImageRejected (NoFaceFound, or ImageUnusable for a box
        outside the picture) or RecognizerUnavailable."""
        request = pb.EncodeRequest(image_path=image_path, box=box)
        reply: pb.EncodeResponse = self._call(self._stub.Encode, request)
        return reply

    def _call(self, method: Callable[..., _Reply], request: object) -> _Reply:
        with nullcontext() if self._guard is None else self._guard.guard():
            try:
                return method(request, timeout=self._timeout, metadata=self._metadata())
            except grpc.RpcError as exc:
                raise error_for(exc.code(), exc.details()) from exc

    @staticmethod
    def _metadata() -> list[tuple[str, str]]:
        return [(REQUEST_ID_HEADER, request_id_var.get() or "")]

    def close(self) -> None:
        if self._guard is not None:
            self._guard.close()
        self._channel.close()


def connect(settings: Settings) -> RecognizerClient:
    """A client without a breaker: each failed call answers at once with its own error."""
    channel = recognizer_channel(settings.recognizer_address)
    return RecognizerClient(channel, settings.recognizer_timeout_seconds)
