"""The processor's decisions. The recognizer is faked only to produce error paths."""

from __future__ import annotations

import pytest

from kubeface.images import ImageStatus, StepTimings
from kubeface.proto import recognizer_pb2 as pb
from kubeface.queue import ImageMessage
from processor.handler import NO_FACE, NO_MATCH, interpret, step_timings


def _face(distance: float, matched: bool, person_id: int = 7) -> pb.Face:
    return pb.Face(
        box=pb.Box(top=1, right=2, bottom=3, left=0),
        nearest_person_id=person_id,
        nearest_person_name=f"p{person_id}",
        nearest_person_image_id=person_id * 10,
        distance=distance,
        matched=matched,
    )


def test_closest_matched_face_names_the_image():
    reply = pb.IdentifyResponse(faces=[_face(0.5, True, 1), _face(0.3, True, 2), _face(0.9, False, 3)])
    status, person_id, detail, faces = interpret(reply)
    assert (status, person_id, detail) == (ImageStatus.PROCESSED, 2, None)
    assert [f.person_id for f in faces] == [1, 2, None]
    assert faces[2].distance == 0.9


def test_no_face_is_pending_with_detail():
    assert interpret(pb.IdentifyResponse())[:3] == (ImageStatus.PENDING, None, NO_FACE)


def test_unmatched_faces_are_pending_with_detail():
    status, person_id, detail, faces = interpret(pb.IdentifyResponse(faces=[_face(0.8, False)]))
    assert (status, person_id, detail) == (ImageStatus.PENDING, None, NO_MATCH)
    assert faces[0].person_id is None and faces[0].person_image_id == 70


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (b'{"id":42,"request_id":"abc"}', ImageMessage(42, "abc")),
        (b'{"id":42}', ImageMessage(42, None)),
        (b"42", ImageMessage(42, None)),  # what the first version published
        (b" 7\n", ImageMessage(7, None)),
        (b"0", None),
        (b"-3", None),
        (b"true", None),
        (b'{"id":"5"}', None),
        # A request id that is not a plain one is dropped, and the image is still processed: in
        # gRPC metadata a control character fails the call client-side, as if the recognizer were down.
        (b'{"id":5,"request_id":7}', ImageMessage(5, None)),
        (b'{"id":5,"request_id":"a\\nb"}', ImageMessage(5, None)),
        (b'{"id":5,"request_id":"a\\u0007b"}', ImageMessage(5, None)),
        (b'{"id":5,"request_id":"caf\xc3\xa9"}', ImageMessage(5, None)),
        (('{"id":5,"request_id":"%s"}' % ("x" * 65)).encode(), ImageMessage(5, None)),
        (b'{"id":5,"request_id":"req-1.a_b"}', ImageMessage(5, "req-1.a_b")),
        (b'{"id":18446744073709551616}', None),  # beyond BIGINT UNSIGNED: names no row
        (b"abc", None),
        (b"\xff", None),
        (b"", None),
    ],
)
def test_message_bodies_are_parsed_strictly(body, expected):
    assert ImageMessage.decode(body) == expected


def test_message_encoding_round_trips():
    message = ImageMessage(12, "req-1")
    assert ImageMessage.decode(message.encode().encode()) == message


def test_a_face_named_after_its_next_person_is_stored_with_its_nearest_and_margin():
    loser = pb.Face(
        nearest_person_id=1,
        nearest_person_image_id=10,
        distance=0.3,
        matched=False,
        named=pb.Candidate(person_id=2, person_name="biden", person_image_id=20, distance=0.45),
        runner_up=pb.Candidate(person_id=1, person_name="obama", person_image_id=10, distance=0.3),
    )
    reply = pb.IdentifyResponse(
        faces=[loser], timings=pb.Timings(decode_ms=1, detect_ms=2, encode_ms=3, match_ms=4)
    )
    status, person_id, _, [face] = interpret(reply)
    assert (status, person_id) == (ImageStatus.PROCESSED, 2)
    assert (face.person_id, face.person_image_id, face.distance) == (2, 20, 0.45)
    assert (face.nearest_person_id, face.nearest_distance) == (1, 0.3)
    assert (face.runner_up_person_id, face.margin) == (1, 0.3)
    assert step_timings(reply) == StepTimings(1, 2, 3, 4)
    assert step_timings(pb.IdentifyResponse()) is None  # an older recognizer says nothing
