"""Photos stored sideways with an EXIF orientation tag are read upright, by every reader."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from frontend.thumbnails import Thumbnailer
from kubeface.orientation import decode_upright
from recognizer.faces import load_image_file
from tests.photos import mean_difference, rgb_pixels, write_oriented

ORIENTATIONS = range(1, 9)


@pytest.mark.parametrize("orientation", ORIENTATIONS)
def test_the_recognizer_decodes_each_orientation_upright(tmp_path, upright, orientation):
    path = tmp_path / f"o{orientation}.png"
    write_oriented(upright, orientation, path)
    assert np.array_equal(load_image_file(path), upright)


@pytest.mark.parametrize("orientation", ORIENTATIONS)
def test_a_camera_jpeg_decodes_upright(tmp_path, upright, orientation):
    path = tmp_path / f"o{orientation}.jpg"
    write_oriented(upright, orientation, path, quality=95)
    assert mean_difference(load_image_file(path), upright) < 2


@pytest.mark.parametrize("orientation", ORIENTATIONS)
def test_the_frontend_previews_and_sizes_each_orientation_upright(tmp_path, upright, orientation):
    root = tmp_path / "root"
    root.mkdir()
    write_oriented(upright, orientation, root / "tagged.jpg", quality=95)
    write_oriented(upright, 1, root / "twin.jpg", quality=95)
    thumbnails = Thumbnailer(root, tmp_path / "cache")
    height, width = upright.shape[:2]
    assert thumbnails.size("tagged.jpg") == (width, height)
    tagged = rgb_pixels(thumbnails.preview("tagged.jpg", 120))
    twin = rgb_pixels(thumbnails.preview("twin.jpg", 120))
    assert mean_difference(tagged, twin) < 4


def _jpeg_with_exif_block(pixels: np.ndarray, block: bytes, path: Path) -> None:
    """A JPEG whose APP1 segment carries `block` as its EXIF data, however malformed."""
    Image.fromarray(pixels).save(path, quality=95)
    data = path.read_bytes()
    payload = b"Exif\x00\x00" + block
    path.write_bytes(data[:2] + b"\xff\xe1" + (len(payload) + 2).to_bytes(2, "big") + payload + data[2:])


_BROKEN_EXIF = {
    "garbage": b"\x00garbage\x00garbage",
    "truncated": b"MM\x00\x2a\x00\x00\x00\x08\x00\x01\x01\x12",
    "offset loop": b"II\x2a\x00\x08\x00\x00\x00\xff\xff" + bytes(20),
    "count past the end": b"MM\x00\x2a\x00\x00\x00\x08\x7f\xff" + b"\x01\x12\x00\x03" * 5,
    "orientation 9": b"MM\x00\x2a\x00\x00\x00\x08\x00\x01\x01\x12\x00\x03\x00\x00\x00\x01\x00\x09\x00\x00"
    + bytes(4),
    "orientation as text": b"MM\x00\x2a\x00\x00\x00\x08\x00\x01\x01\x12\x00\x02\x00\x00\x00\x04six\x00"
    + bytes(4),
}


# Pillow warns about broken EXIF while opening the file (the services let it; pytest would raise).
@pytest.mark.filterwarnings("ignore::UserWarning:PIL.TiffImagePlugin")
@pytest.mark.parametrize("block", _BROKEN_EXIF.values(), ids=_BROKEN_EXIF.keys())
def test_broken_exif_decodes_as_stored(tmp_path, upright, block):
    path = tmp_path / "broken.jpg"
    _jpeg_with_exif_block(upright, block, path)
    assert mean_difference(load_image_file(path), upright) < 2
    thumbnails = Thumbnailer(tmp_path, tmp_path / "cache")
    assert thumbnails.size("broken.jpg") == (upright.shape[1], upright.shape[0])
    assert thumbnails.preview("broken.jpg", 64).is_file()


def test_broken_exif_is_logged_with_the_image(tmp_path, upright, caplog):
    path = tmp_path / "broken.jpg"
    _jpeg_with_exif_block(upright, _BROKEN_EXIF["orientation as text"], path)
    with caplog.at_level(logging.WARNING, logger="kubeface.orientation"):
        load_image_file(path)
    [record] = caplog.records
    assert "used as stored" in record.getMessage() and record.image == "broken.jpg"


def test_an_upright_picture_is_not_copied(tmp_path, upright):
    path = tmp_path / "plain.jpg"
    Image.fromarray(upright).save(path)
    with Image.open(path) as img:
        assert decode_upright(img) is img
