"""What can go wrong when asking the recognizer, and the one place that says what each gRPC code means.

The recognizer raises these (or subclasses of them) and `status_code_for` turns them into gRPC
codes; callers get them back from `error_for`, so both ends agree by construction. Nothing else
in the project compares gRPC status codes.
"""

from __future__ import annotations

import grpc


class RecognitionError(Exception):
    """Base of everything a recognizer call can fail with."""


class ImageRejected(RecognitionError):
    """The image itself cannot be used; retrying will not help. Subclasses say why."""

    @property
    def code_name(self) -> str:
        """The wire code's name: a FAILED row's detail starts with it (`NOT_FOUND: …`)."""
        return str(status_code_for(type(self)).name)


class ImageMissing(ImageRejected):
    """No file at the path."""


class ImageUnusable(ImageRejected):
    """A file is there but cannot be used: not a readable image, not a regular file, too large."""


class ImagePathRefused(ImageRejected):
    """The path is malformed or leaves the image root."""


class NoFaceFound(ImageRejected):
    """Enrolment needs a face and the image shows none the recognizer can encode."""


class FaceBoxRefused(ImageUnusable):
    """The face box given to Encode is not inside the picture or is too small to hold a face.

    The same code as an unusable image (INVALID_ARGUMENT: this image cannot be used this way), so
    callers see ImageUnusable; its message says what was wrong.
    """


class RecognizerUnavailable(RecognitionError):
    """A transient failure: the recognizer is down, slow, still loading, or the breaker is open.

    `str()` keeps the whole cause for the logs; gRPC's details name the addresses it tried (pod
    IPs, ports), so what a user may see is `public`.
    """

    def __init__(self, message: str, public: str | None = None) -> None:
        super().__init__(message)
        self.public = public if public is not None else message


class RecognizerNotReady(RecognizerUnavailable):
    """The recognizer is still loading its models and known faces."""


class RequestCancelled(RecognizerUnavailable):
    """The call ended (deadline passed, caller gone) before the recognizer took its image."""


class BreakerOpen(RecognizerUnavailable):
    """The client's circuit breaker is open: the call was not even tried."""


# Server side: what each failure is answered with. Looked up along the exception's MRO, so a
# subclass gets its nearest listed ancestor's code.
_CODE_OF: dict[type[RecognitionError], grpc.StatusCode] = {
    ImageMissing: grpc.StatusCode.NOT_FOUND,
    ImageUnusable: grpc.StatusCode.INVALID_ARGUMENT,
    FaceBoxRefused: grpc.StatusCode.INVALID_ARGUMENT,
    ImagePathRefused: grpc.StatusCode.PERMISSION_DENIED,
    NoFaceFound: grpc.StatusCode.FAILED_PRECONDITION,
    RequestCancelled: grpc.StatusCode.CANCELLED,
    RecognizerUnavailable: grpc.StatusCode.UNAVAILABLE,
}

# Client side: what each code means. A code not listed (DEADLINE_EXCEEDED, INTERNAL, …) is a
# transient failure: RecognizerUnavailable.
_ERROR_OF: dict[grpc.StatusCode, type[RecognitionError]] = {
    grpc.StatusCode.NOT_FOUND: ImageMissing,
    grpc.StatusCode.INVALID_ARGUMENT: ImageUnusable,
    grpc.StatusCode.PERMISSION_DENIED: ImagePathRefused,
    grpc.StatusCode.FAILED_PRECONDITION: NoFaceFound,
    grpc.StatusCode.CANCELLED: RequestCancelled,
    grpc.StatusCode.UNAVAILABLE: RecognizerUnavailable,
}


def status_code_for(kind: type[BaseException]) -> grpc.StatusCode:
    """The code a failure of this type is answered with; INTERNAL for anything unlisted."""
    for ancestor in kind.__mro__:
        code = _CODE_OF.get(ancestor)
        if code is not None:
            return code
    return grpc.StatusCode.INTERNAL


def error_for(code: grpc.StatusCode, details: str | None) -> RecognitionError:
    """The domain error a caller raises for a failed call's code and details."""
    kind = _ERROR_OF.get(code, RecognizerUnavailable)
    if issubclass(kind, RecognizerUnavailable):
        return kind(f"recognizer call failed: {code.name}: {details}", f"recognizer call failed: {code.name}")
    return kind(details or code.name)
