"""One meaning per gRPC code: what the recognizer answers and what its callers understand agree."""

from __future__ import annotations

import grpc
import pytest

from kubeface import recognition_errors as errors
from kubeface.image_files import ImageFileMissing, ImageFileRefused
from kubeface.paths import PathRejected
from recognizer.batching import RequestGone
from recognizer.faces import NoFaceFound, NotAnImage
from recognizer.server import _rpc


def test_every_code_a_caller_understands_is_the_one_the_recognizer_answers_for_it():
    for code, kind in errors._ERROR_OF.items():
        assert errors.status_code_for(kind) == code, kind


def test_every_failure_the_recognizer_answers_comes_back_as_the_same_kind():
    for kind, code in errors._CODE_OF.items():
        assert issubclass(kind, type(errors.error_for(code, "why"))), kind


@pytest.mark.parametrize(
    ("server_error", "code", "caller_sees"),
    [
        (ImageFileMissing("no file at 'x.jpg'"), grpc.StatusCode.NOT_FOUND, errors.ImageMissing),
        (ImageFileRefused("a FIFO"), grpc.StatusCode.INVALID_ARGUMENT, errors.ImageUnusable),
        (NotAnImage("not a readable image"), grpc.StatusCode.INVALID_ARGUMENT, errors.ImageUnusable),
        (PathRejected("outside the image root"), grpc.StatusCode.PERMISSION_DENIED, errors.ImagePathRefused),
        (NoFaceFound("no face"), grpc.StatusCode.FAILED_PRECONDITION, errors.NoFaceFound),
        (errors.RecognizerNotReady("loading"), grpc.StatusCode.UNAVAILABLE, errors.RecognizerUnavailable),
        (RequestGone("gone"), grpc.StatusCode.CANCELLED, errors.RequestCancelled),
    ],
)
def test_the_recognizers_own_errors_travel_as_their_kind(server_error, code, caller_sees):
    assert errors.status_code_for(type(server_error)) == code
    assert isinstance(errors.error_for(code, str(server_error)), caller_sees)


def test_a_rejected_image_is_not_transient_and_keeps_the_recognizers_reason():
    error = errors.error_for(grpc.StatusCode.NOT_FOUND, "no file at 'x.jpg'")
    assert isinstance(error, errors.ImageRejected)
    assert not isinstance(error, errors.RecognizerUnavailable)
    assert (error.code_name, str(error)) == ("NOT_FOUND", "no file at 'x.jpg'")


@pytest.mark.parametrize(
    "code", [grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED, grpc.StatusCode.INTERNAL]
)
def test_other_codes_are_transient_and_their_details_stay_in_the_logs(code):
    error = errors.error_for(code, "failed to connect to all addresses; last error: 10.1.2.3:50051")
    assert isinstance(error, errors.RecognizerUnavailable)
    assert error.public == f"recognizer call failed: {code.name}"
    assert "10.1.2.3" in str(error)


class _Aborted(Exception):
    pass


class _Context:
    """The three things `_rpc` uses of a grpc.ServicerContext."""

    code: grpc.StatusCode | None = None

    def invocation_metadata(self):
        return ()

    def send_initial_metadata(self, metadata):
        pass

    def abort(self, code, details):
        self.code = code
        raise _Aborted(details)


class _NotAnImageAtAll(NotAnImage):
    """A subclass added later: it used to raise KeyError inside the handler (exact-type lookup)."""


def test_a_new_subclass_of_a_mapped_error_is_answered_with_its_parents_code():
    context = _Context()
    with pytest.raises(_Aborted, match="truncated"), _rpc("Identify", "x.jpg", context):
        raise _NotAnImageAtAll("truncated file")
    assert context.code == grpc.StatusCode.INVALID_ARGUMENT


def test_a_bug_in_the_recognizer_is_internal_and_hides_its_message():
    context = _Context()
    with pytest.raises(_Aborted, match="see its logs"), _rpc("Identify", "x.jpg", context):
        raise ZeroDivisionError("secret")
    assert context.code == grpc.StatusCode.INTERNAL
