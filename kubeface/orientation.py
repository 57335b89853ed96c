"""Pictures the way the camera meant them: the EXIF orientation tag applied.

A phone stores a photo taken upright as the sensor saw it, often sideways, and tags it with an
EXIF orientation (1-8) that viewers apply. Detection read the stored pixels and found no face in
a sideways photo. Every reader of images turns the picture upright here: the recognizer (Identify
and Encode), so face boxes are in the upright picture's pixels, and the frontend (previews and
the size its box overlay is drawn in), so the boxes sit on the faces it shows.
"""

from __future__ import annotations

import logging

from PIL import ExifTags, Image, PngImagePlugin

log = logging.getLogger(__name__)

# What each EXIF orientation asks a viewer to do to the stored pixels (EXIF 2.32, tag 0x0112).
_TRANSPOSES = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}
# These swap width and height.
_QUARTER_TURNS = {5, 6, 7, 8}


def orientation(img: Image.Image, name: str = "") -> int:
    """The EXIF orientation (1-8) of an opened, not yet decoded image; 1 when absent or unusable.

    Read from the header only, so sizing a picture never decodes it. A broken EXIF block or an
    odd value never fails the image: it is used as stored, and the reason is logged.
    """
    if isinstance(img, PngImagePlugin.PngImageFile) and "exif" not in img.info:
        # An eXIf chunk after the pixel data is out of order (the PNG spec puts it before IDAT)
        # and Pillow would decode the whole image to look for one.
        return 1
    try:
        value = img.getexif().get(ExifTags.Base.Orientation, 1)
    except Exception as exc:  # noqa: BLE001 - Pillow raises many kinds on broken EXIF; never fatal
        log.warning(
            "unreadable EXIF; the picture is used as stored",
            extra={"image": name, "error": f"{type(exc).__name__}: {exc}"},
        )
        return 1
    if isinstance(value, int) and (value == 1 or value in _TRANSPOSES):
        return value
    log.warning(
        "EXIF orientation is not 1-8; the picture is used as stored",
        extra={"image": name, "orientation": repr(value)[:40]},
    )
    return 1


def upright_size(img: Image.Image, name: str = "") -> tuple[int, int]:
    """Width and height of the upright picture, from the header only."""
    width, height = img.size
    return (height, width) if orientation(img, name) in _QUARTER_TURNS else (width, height)


def decode_upright(img: Image.Image, name: str = "") -> Image.Image:
    """Decode an opened image and turn it upright.

    Call after any `draft()`. The image itself comes back when its orientation is 1 (no copy);
    otherwise one transpose of the decoded pixels, never a second decode.
    """
    method = _TRANSPOSES.get(orientation(img, name))
    img.load()
    return img if method is None else img.transpose(method)
