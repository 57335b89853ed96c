"""Phone photos stored sideways with an EXIF orientation tag, through the real mesh.

Each of the eight orientations of one photo must give what its upright twin gives: the same
person and distance, the same face boxes, and in the frontend the same upright picture with the
boxes drawn at the same places.
"""

from __future__ import annotations

import io
import re
import uuid

import httpx
import numpy as np
import pytest
from PIL import Image

from tests.photos import rgb_pixels, shown_upright, write_oriented

pytestmark = pytest.mark.mesh

ORIENTATIONS = range(1, 9)
PIXELS = 2


def _photo_set(mesh, photo: str) -> dict[int, tuple[str, str]]:
    """For each orientation, a camera-style JPEG of `photo` tagged with it, and its upright twin.

    The twin is a lossless PNG of exactly the pixels a viewer shows for the tagged file (turned
    by tests.photos, not by the code under test), so the two must give the same answer: JPEG noise
    alone moves HOG's boxes by a pyramid level.
    """
    folder = f"orient-{uuid.uuid4().hex[:8]}"
    (mesh.image_root / folder).mkdir()
    upright = rgb_pixels(mesh.image_root / photo)
    pairs = {}
    for orientation in ORIENTATIONS:
        tagged, twin = f"{folder}/o{orientation}.jpg", f"{folder}/o{orientation}-upright.png"
        write_oriented(upright, orientation, mesh.image_root / tagged, quality=95)
        stored = rgb_pixels(mesh.image_root / tagged)
        Image.fromarray(shown_upright(stored, orientation)).save(mesh.image_root / twin)
        pairs[orientation] = (tagged, twin)
    return pairs


@pytest.fixture(scope="module")
def recognised(mesh):
    """The final rows of each tagged copy of obama2.jpg and of its upright twin."""
    ids = {
        o: (mesh.post(tagged)["id"], mesh.post(twin)["id"])
        for o, (tagged, twin) in _photo_set(mesh, "obama2.jpg").items()
    }
    return {o: (mesh.wait_final(tagged), mesh.wait_final(twin)) for o, (tagged, twin) in ids.items()}


def _box(face: dict) -> tuple[int, ...]:
    return tuple(face["box"][side] for side in ("top", "right", "bottom", "left"))


@pytest.mark.parametrize("orientation", ORIENTATIONS)
def test_each_orientation_is_recognised_as_its_upright_twin(recognised, orientation):
    row, twin = recognised[orientation]
    assert twin["status"] == "PROCESSED" and len(twin["faces"]) == 1, twin
    assert (row["status"], row["person"]) == ("PROCESSED", twin["person"]), row
    [face], [twin_face] = row["faces"], twin["faces"]
    assert face["distance"] == pytest.approx(twin_face["distance"], abs=0.01)
    assert np.allclose(_box(face), _box(twin_face), atol=PIXELS), (face["box"], twin_face["box"])


def _picture(mesh, image_id: int) -> np.ndarray:
    response = httpx.get(f"{mesh.frontend_url}/image/{image_id}/picture")
    assert response.headers["content-type"] == "image/jpeg", response.text[:200]
    return np.asarray(Image.open(io.BytesIO(response.content)).convert("RGB"), dtype=np.int16)


def _overlay(mesh, image_id: int) -> tuple[list[float], list[list[float]]]:
    """The image page's SVG frame (viewBox) and the x, y, width, height of each face box."""
    html = httpx.get(f"{mesh.frontend_url}/image/{image_id}").text
    [frame] = re.findall(r'<svg viewBox="([^"]+)"', html)
    boxes = re.findall(r'<rect class="box" x="([^"]+)" y="([^"]+)" width="([^"]+)" height="([^"]+)"', html)
    return [float(v) for v in frame.split()], [[float(v) for v in box] for box in boxes]


@pytest.mark.parametrize("orientation", [3, 6, 7, 8])
def test_the_frontend_shows_a_tagged_photo_upright_with_its_boxes_on_the_face(mesh, recognised, orientation):
    row, twin = recognised[orientation]
    picture, twin_picture = _picture(mesh, row["id"]), _picture(mesh, twin["id"])
    assert picture.shape == twin_picture.shape
    assert np.abs(picture - twin_picture).mean() < 4
    frame, boxes = _overlay(mesh, row["id"])
    twin_frame, twin_boxes = _overlay(mesh, twin["id"])
    assert frame == twin_frame and len(boxes) == len(twin_boxes) == 1
    assert np.allclose(boxes, twin_boxes, atol=PIXELS), (boxes, twin_boxes)


def _encoding(mesh, path: str) -> np.ndarray:
    [row] = mesh.sql("SELECT encoding FROM person_images WHERE path = %s", (path,))
    return np.frombuffer(row["encoding"], dtype=np.float64)


def test_enrolment_from_tagged_photos_encodes_the_upright_face(mesh):
    # Added to the known "obama" (enrolled by the mesh fixture), not to a new person: another face
    # of someone known changes no other test's answer, as a new person could.
    pairs = _photo_set(mesh, "obama.jpg")
    [obama] = mesh.sql("SELECT id FROM person WHERE name = 'obama'")
    paths = [path for pair in pairs.values() for path in pair]
    with mesh.api() as api:
        added = api.post(f"/person/{obama['id']}/photos", json={"paths": paths})
    assert added.status_code == 201, added.text
    for orientation, (tagged, twin) in pairs.items():
        assert np.linalg.norm(_encoding(mesh, tagged) - _encoding(mesh, twin)) < 0.01, orientation
