"""The recognizer's gRPC contract, called directly."""

from __future__ import annotations

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from kubeface.proto import recognizer_pb2 as pb
from kubeface.proto import recognizer_pb2_grpc as pb_grpc

pytestmark = pytest.mark.mesh


@pytest.fixture
def stub(mesh):
    with grpc.insecure_channel(mesh.recognizer_address) as channel:
        yield pb_grpc.RecognizerStub(channel)


def test_identify_reports_box_nearest_person_and_distance(stub):
    reply = stub.Identify(pb.IdentifyRequest(image_path="obama2.jpg"), timeout=60)
    [face] = reply.faces
    assert face.matched and face.nearest_person_name == "obama"
    assert 0 < face.distance < reply.tolerance == pytest.approx(0.6)
    assert face.box.bottom > face.box.top and face.box.right > face.box.left
    assert reply.known_faces >= 1 and reply.detection_model == "hog"


@pytest.mark.parametrize(
    ("path", "code"),
    [
        ("nope.jpg", grpc.StatusCode.NOT_FOUND),
        ("corrupt.jpg", grpc.StatusCode.INVALID_ARGUMENT),
        ("known", grpc.StatusCode.INVALID_ARGUMENT),
        ("../../etc/passwd", grpc.StatusCode.PERMISSION_DENIED),
    ],
)
def test_image_errors_have_distinct_codes(stub, path, code):
    with pytest.raises(grpc.RpcError) as caught:
        stub.Identify(pb.IdentifyRequest(image_path=path), timeout=60)
    assert caught.value.code() == code
    assert caught.value.details()


def test_encode_without_a_face_is_a_failed_precondition(stub):
    with pytest.raises(grpc.RpcError) as caught:
        stub.Encode(pb.EncodeRequest(image_path="no_face.png"), timeout=60)
    assert caught.value.code() == grpc.StatusCode.FAILED_PRECONDITION


def test_health_is_serving_for_the_server_and_the_service(mesh):
    with grpc.insecure_channel(mesh.recognizer_address) as channel:
        health = health_pb2_grpc.HealthStub(channel)
        for service in ("", "kubeface.recognizer.v1.Recognizer"):
            reply = health.Check(health_pb2.HealthCheckRequest(service=service), timeout=5)
            assert reply.status == health_pb2.HealthCheckResponse.SERVING


def test_migrations_applied_twice_are_a_no_op(mesh):
    before = mesh.sql("SELECT COUNT(*) AS n FROM _yoyo_migration")[0]["n"]
    result = mesh.run("migrate")
    assert result.returncode == 0, result.stderr
    assert '"applied": []' in result.stdout
    assert mesh.sql("SELECT COUNT(*) AS n FROM _yoyo_migration")[0]["n"] == before > 0


def test_recognizer_exports_stage_timings_and_faces_per_image(mesh, stub):
    stub.Identify(pb.IdentifyRequest(image_path="two_faces.jpg"), timeout=60)
    url = f"http://127.0.0.1:{mesh.env['RECOGNIZER_METRICS_PORT']}/metrics"
    for name in (
        "recognizer_detect_seconds_count",
        "recognizer_encode_seconds_count",
        "recognizer_known_faces",
    ):
        assert mesh.metric(url, name) >= 1, name
    assert mesh.metric(url, 'recognizer_faces_per_image_bucket{le="2.0"}') >= 1
    assert mesh.metric(url, 'recognizer_rpc_seconds_count{code="OK",method="Identify"}') >= 1
