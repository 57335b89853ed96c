"""The one check that the mesh tests keep their faces to their roles (tests.photos)."""

from __future__ import annotations

import grpc
import pytest

from kubeface.proto import recognizer_pb2 as pb
from kubeface.proto import recognizer_pb2_grpc as pb_grpc
from tests.photos import NEVER_ENROLLED


def _uses_mesh(request: pytest.FixtureRequest) -> bool:
    return any(
        "mesh" in getattr(item, "fixturenames", ())
        for item in request.session.items
        if getattr(item, "module", None) is request.module
    )


@pytest.fixture(scope="module", autouse=True)
def never_enrolled_faces_stay_unknown(request: pytest.FixtureRequest):
    """After each mesh module: no enrolled person matches a face that tests expect to be unknown.

    A module that enrolled one of them would make the stranger tests pass or fail by the order
    the modules ran in; this names the module that did it.
    """
    if not _uses_mesh(request):
        yield
        return
    mesh = request.getfixturevalue("mesh")
    yield
    sample = NEVER_ENROLLED[0]
    with grpc.insecure_channel(mesh.recognizer_address) as channel:
        reply = pb_grpc.RecognizerStub(channel).Identify(pb.IdentifyRequest(image_path=sample), timeout=60)
    matched = [face.nearest_person_name for face in reply.faces if face.matched]
    assert not matched, (
        f"{request.module.__name__} left {sample} (a face in tests.photos.NEVER_ENROLLED) recognised"
        f" as {matched}: enrol one of the other faces under a name of the test's own"
    )
