"""HEIC/HEIF and AVIF, phones' formats, through the real mesh: posted, uploaded, previewed.

Each file is made here from obama2.jpg (the session's known face, tests.photos.SESSION_FACE) at a
path or with bytes of this test's own; nothing is enrolled.
"""

from __future__ import annotations

import io
import json
import uuid
from pathlib import Path

import httpx
import numpy as np
import pytest
from PIL import Image

from tests.photos import SESSION_FACE, claiming_size, rgb_pixels, write_phone_photo

pytestmark = pytest.mark.mesh

PERSON, PHOTO = SESSION_FACE


def _phone_photo(mesh, fmt: str, orientation: int = 1) -> tuple[str, Path]:
    """A phone-style copy of the known face at a path of its own: (relative path, file)."""
    relative = f"phone-{uuid.uuid4().hex[:10]}/photo.{fmt}"
    path = mesh.image_root / relative
    path.parent.mkdir()
    write_phone_photo(rgb_pixels(mesh.image_root / PHOTO), path, orientation)
    return relative, path


@pytest.mark.parametrize(
    ("fmt", "orientation"), [("heic", 1), ("avif", 1), ("heic", 6), ("heic", 8), ("avif", 6)]
)
def test_a_posted_phone_photo_is_recognised_upright(mesh, fmt, orientation):
    # Sideways (the turn in the container): turned zero times or twice, HOG finds no face.
    relative, _ = _phone_photo(mesh, fmt, orientation)
    image = mesh.wait_final(mesh.post(relative)["id"])
    assert (image["status"], image["person"]) == ("PROCESSED", PERSON), image
    assert len(image["faces"]) == 1


def test_a_truncated_heic_fails_saying_why_and_the_next_one_works(mesh):
    relative, path = _phone_photo(mesh, "heic")
    whole = path.read_bytes()
    path.write_bytes(whole[: len(whole) // 2])
    cut = mesh.wait_final(mesh.post(relative)["id"])
    assert cut["status"] == "FAILED" and cut["attempts"] == 1, cut
    assert cut["detail"].startswith("INVALID_ARGUMENT") and "not a readable HEIC file" in cut["detail"]
    after, _ = _phone_photo(mesh, "heic")
    assert mesh.wait_final(mesh.post(after)["id"])["status"] == "PROCESSED"


@pytest.mark.parametrize(
    ("width", "height", "reason"),
    [
        (9000, 9000, "image is 9000x9000, over the 80000000-pixel limit"),
        (100_000, 100_000, "too many pixels"),
    ],
)
def test_a_heic_claiming_too_many_pixels_is_refused_unread(mesh, width, height, reason):
    relative, path = _phone_photo(mesh, "heic")
    path.write_bytes(claiming_size(path.read_bytes(), width, height))
    image = mesh.wait_final(mesh.post(relative)["id"])
    assert image["status"] == "FAILED" and reason in image["detail"], image


@pytest.mark.parametrize("fmt", ["heic", "avif"])
def test_an_uploaded_phone_photo_is_stored_as_such_and_recognised(mesh, fmt, tmp_path):
    path = tmp_path / f"photo.{fmt}"
    # A note of this test's own: new bytes, so a row of its own.
    write_phone_photo(rgb_pixels(mesh.image_root / PHOTO), path, 6, note=uuid.uuid4().hex)
    with mesh.api() as api:
        response = api.post(
            "/image/upload", files={"file": (f"IMG_0001.{fmt.upper()}", path.read_bytes(), "image/heic")}
        )
    assert response.status_code == 202, response.text
    body = response.json()
    assert body["path"].endswith(f".{fmt}")
    image = mesh.wait_final(body["id"])
    assert (image["status"], image["person"]) == ("PROCESSED", PERSON), image


def test_kubeface_post_of_a_folder_posts_its_heic(mesh):
    relative, path = _phone_photo(mesh, "heic")
    result = mesh.run("post", str(path.parent), "--wait", "--timeout", "120", "--json")
    assert result.returncode == 0, result.stdout + result.stderr
    summary = json.loads(result.stdout.strip().splitlines()[-1])
    assert summary["posted"] == 1 and summary["by_status"] == {"PROCESSED": 1}, summary


def test_the_frontend_previews_a_sideways_heic_upright(mesh):
    relative, _ = _phone_photo(mesh, "heic", 6)
    image = mesh.wait_final(mesh.post(relative)["id"])
    response = httpx.get(f"{mesh.frontend_url}/image/{image['id']}/picture")
    assert response.status_code == 200 and response.headers["content-type"] == "image/jpeg", response.text[
        :200
    ]
    picture = np.asarray(Image.open(io.BytesIO(response.content)))
    height, width = rgb_pixels(mesh.image_root / PHOTO).shape[:2]
    assert picture.shape[0] / picture.shape[1] == pytest.approx(height / width, rel=0.02)
