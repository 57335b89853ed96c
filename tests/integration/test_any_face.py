"""Any face of an image can be enrolled, not only the largest (issue 13, part 4)."""

from __future__ import annotations

import shutil
import time
import uuid

import grpc
import httpx
import numpy as np
import pytest
from PIL import Image

from kubeface.proto import recognizer_pb2 as pb
from kubeface.proto import recognizer_pb2_grpc as pb_grpc
from tests.photos import beside_smaller, rgb_pixels, write_blank_png, write_oriented

pytestmark = pytest.mark.mesh

# Person B: a face no other test expects to be known or unknown (see test_admin.SPARE_FACE).
SPARE_FACE = "shared/lin-manuel-miranda.png"
KNOWN = "obama"  # person A: the mesh fixture enrols them


def _unique(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:8]}"


def _spare(mesh):
    spare = mesh.image_root / SPARE_FACE
    if not spare.exists():
        pytest.skip("../shared/faces is absent: the sdist's faces are all spoken for by other tests")
    (mesh.image_root / "anyface").mkdir(exist_ok=True)
    return spare


def _two_people(mesh, name: str, height: int = 400) -> str:
    """Obama (known) beside a smaller face of the spare person; its path under the image root.

    Tests that enrol pass their own `height`: the same pixels would give the same encoding, and
    an enrolment by another test would tie with theirs."""
    spare = _spare(mesh)
    path = mesh.image_root / "anyface" / f"{name}.jpg"
    beside_smaller(mesh.image_root / "obama2.jpg", spare, path, right_height=height)
    return f"anyface/{name}.jpg"


def _area(face: dict) -> int:
    box = face["box"]
    return (box["right"] - box["left"]) * (box["bottom"] - box["top"])


def _stranger_index(image: dict) -> int:
    """The index of the face that is not Obama, checked to be the smaller of the two."""
    faces = image["faces"]
    assert len(faces) == 2, faces
    [known] = [i for i, f in enumerate(faces) if f["person"] == KNOWN]
    other = 1 - known
    assert _area(faces[other]) < _area(faces[known]), "the test needs the stranger's face to be smaller"
    return other


def _wait_for_people(mesh, image_id: int, people: set[str], timeout: float = 60) -> dict:
    """The image once re-identification names exactly these people in its faces."""
    deadline = time.monotonic() + timeout
    while True:
        image = mesh.wait_final(image_id)
        if {f["person"] for f in image["faces"]} == people or time.monotonic() > deadline:
            return image
        time.sleep(0.5)


def test_the_smaller_face_of_two_is_enrolled_as_a_new_person(mesh):
    name = _unique("anyface_new")
    image = mesh.wait_final(mesh.post(_two_people(mesh, name, height=410))["id"])
    assert image["status"] == "PROCESSED"
    face = _stranger_index(image)
    with mesh.api() as api:
        answer = api.post(f"/image/{image['id']}/enroll", json={"name": name, "face": face})
    assert answer.status_code == 201, answer.text
    assert (answer.json()["name"], answer.json()["created"]) == (name, True)
    after = _wait_for_people(mesh, image["id"], {KNOWN, name})
    assert after["faces"][face]["person"] == name
    assert after["faces"][1 - face]["person"] == KNOWN


def test_the_smaller_face_of_two_is_added_to_an_existing_person(mesh):
    name = _unique("anyface_add")
    (mesh.image_root / "anyface" / f"{name}_ref.png").write_bytes(_spare(mesh).read_bytes())
    with mesh.api() as api:
        created = api.post("/person", json={"name": name, "paths": [f"anyface/{name}_ref.png"]})
        assert created.status_code == 201, created.text
        person = created.json()["id"]
        image = mesh.wait_final(mesh.post(_two_people(mesh, name, height=390))["id"])
        face = _stranger_index(image)
        added = api.post(f"/image/{image['id']}/enroll", json={"person_id": person, "face": face})
    assert added.status_code == 201, added.text
    assert (added.json()["id"], added.json()["created"]) == (person, False)
    photos = mesh.sql("SELECT path FROM person_images WHERE person_id = %s ORDER BY id", (person,))
    assert [p["path"] for p in photos] == [f"anyface/{name}_ref.png", image["path"]]
    # The face added is the stranger's, not Obama's: the image now names both.
    after = _wait_for_people(mesh, image["id"], {KNOWN, name})
    assert after["faces"][face]["person"] == name
    assert after["faces"][1 - face]["person"] == KNOWN


def test_the_image_page_offers_each_face_both_enrol_forms_for_an_operator_only(mesh):
    image = mesh.wait_final(mesh.post(_two_people(mesh, _unique("anyface_page")))["id"])
    with mesh.operator() as client:
        page = client.get(f"/image/{image['id']}").text
    assert page.count(f'action="/image/{image["id"]}/enroll"') == 2
    assert page.count(f'action="/image/{image["id"]}/add-to-person"') == 2
    for face in (0, 1):
        assert page.count(f'<input type="hidden" name="face" value="{face}">') == 2
        assert f"Name for face {face + 1}" in page and f"Person for face {face + 1}" in page
    anonymous = httpx.get(f"{mesh.frontend_url}/image/{image['id']}").text
    assert 'method="post"' not in anonymous and "Read-only" in anonymous


def test_a_face_index_the_image_does_not_have_is_a_422_that_says_which_exist(mesh):
    name = _unique("anyface_bad")
    image = mesh.wait_final(mesh.post(_two_people(mesh, name))["id"])
    with mesh.api() as api:
        answer = api.post(f"/image/{image['id']}/enroll", json={"name": name, "face": 2})
    assert answer.status_code == 422
    assert "has 2 face(s)" in answer.json()["error"] and "from 0 to 1" in answer.json()["error"]
    assert not mesh.sql("SELECT id FROM person WHERE name = %s", (name,))


def test_enrolling_a_face_the_file_no_longer_shows_is_refused_not_enrolled(mesh):
    """The file was replaced by a picture of the same size without a face: nothing is enrolled."""
    name = _unique("anyface_gone")
    path = mesh.image_root / "anyface" / f"{name}.jpg"
    _spare(mesh)
    shutil.copy(mesh.image_root / "obama2.jpg", path)
    image = mesh.wait_final(mesh.post(f"anyface/{name}.jpg")["id"])
    assert len(image["faces"]) == 1, image
    with Image.open(path) as photo:
        width, height = photo.size
    write_blank_png(path, width, height)
    with mesh.api() as api:
        answer = api.post(f"/image/{image['id']}/enroll", json={"name": name, "face": 0})
    assert answer.status_code == 422, answer.text
    assert "no face" in answer.json()["error"]
    assert not mesh.sql("SELECT id FROM person WHERE name = %s", (name,))


@pytest.fixture
def stub(mesh):
    with grpc.insecure_channel(mesh.recognizer_address) as channel:
        yield pb_grpc.RecognizerStub(channel)


def _distance(a, b) -> float:
    return float(np.linalg.norm(np.asarray(a) - np.asarray(b)))


def test_encode_with_a_box_encodes_that_face_not_the_largest(mesh, stub):
    path = _two_people(mesh, _unique("anyface_grpc"))
    faces = stub.Identify(pb.IdentifyRequest(image_path=path), timeout=60).faces
    stranger = min(faces, key=lambda f: (f.box.right - f.box.left) * (f.box.bottom - f.box.top))
    boxed = stub.Encode(pb.EncodeRequest(image_path=path, box=stranger.box), timeout=60)
    largest = stub.Encode(pb.EncodeRequest(image_path=path), timeout=60)
    alone = stub.Encode(pb.EncodeRequest(image_path=SPARE_FACE), timeout=60)
    assert boxed.box == stranger.box and largest.box != stranger.box
    assert _distance(boxed.encoding, alone.encoding) < 0.6 < _distance(largest.encoding, alone.encoding)


def test_encode_boxes_are_in_the_upright_pictures_pixels(mesh, stub):
    """A photo stored sideways (EXIF orientation 6): Identify's box encodes the same face."""
    path = f"anyface/{_unique('anyface_turned')}.jpg"
    write_oriented(rgb_pixels(_spare(mesh)), 6, mesh.image_root / path)
    [face] = stub.Identify(pb.IdentifyRequest(image_path=path), timeout=60).faces
    boxed = stub.Encode(pb.EncodeRequest(image_path=path, box=face.box), timeout=60)
    largest = stub.Encode(pb.EncodeRequest(image_path=path), timeout=60)
    assert _distance(boxed.encoding, largest.encoding) < 1e-6


@pytest.mark.parametrize(
    ("box", "said"),
    [
        (pb.Box(top=0, right=5000, bottom=100, left=4900), "not inside"),
        (pb.Box(top=-10, right=100, bottom=100, left=0), "not inside"),
        (pb.Box(top=100, right=100, bottom=50, left=0), "not inside"),
        (pb.Box(top=10, right=15, bottom=15, left=10), "too small"),
    ],
)
def test_encode_refuses_a_box_outside_the_picture_or_too_small(stub, box, said):
    with pytest.raises(grpc.RpcError) as caught:
        stub.Encode(pb.EncodeRequest(image_path="obama2.jpg", box=box), timeout=60)
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert said in caught.value.details()
