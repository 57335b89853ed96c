"""HEIC/HEIF and AVIF, phones' formats: named by their ftyp brands, read upright by every reader."""

from __future__ import annotations

import struct

import pytest
from PIL import Image

from frontend.thumbnails import PreviewUnavailable, Thumbnailer
from kubeface.image_files import ImageFileRefused
from kubeface.image_formats import MAX_BOXES, iso_bmff_type
from kubeface.uploads import UploadRejected, UploadStore, image_type
from recognizer.faces import NotAnImage, load_image_file
from tests.photos import claiming_size, grid_bomb, mean_difference, rgb_pixels, write_phone_photo

FORMATS = ("heic", "avif")
ORIENTATIONS = range(1, 9)


def _ftyp(major: bytes, *compatible: bytes) -> bytes:
    brands = major + b"\x00\x00\x00\x00" + b"".join(compatible)
    return struct.pack(">I", 8 + len(brands)) + b"ftyp" + brands + b"\x00\x00\x00\x08free"


@pytest.mark.parametrize(
    ("head", "kind"),
    [
        (_ftyp(b"heic", b"mif1", b"heic"), "heic"),  # an iPhone's
        (_ftyp(b"heix", b"mif1", b"heix"), "heic"),
        (_ftyp(b"hevc", b"msf1", b"hevc"), "heic"),  # a HEIF sequence (burst, live photo)
        (_ftyp(b"mif1", b"mif1", b"heic", b"miaf"), "heic"),  # some Android phones'
        (_ftyp(b"avif", b"avif", b"mif1", b"miaf"), "avif"),
        (_ftyp(b"avis", b"avis", b"msf1"), "avif"),
        (_ftyp(b"mif1", b"mif1", b"miaf", b"MA1B", b"avif"), "avif"),
        (_ftyp(b"mif1", b"mif1", b"miaf"), None),  # no codec named: nothing here decodes it
        (_ftyp(b"mif1", b"mif1", b"jpeg"), None),  # JPEG in HEIF: libheif here has no JPEG codec
        (_ftyp(b"isom", b"isom", b"avc1", b"mp41"), None),  # an MP4 video
        (_ftyp(b"qt  ", b"qt  "), None),  # a QuickTime movie
        (_ftyp(b"M4A ", b"M4A ", b"isom"), None),  # audio
        (b"\x00\x00\x00\x08ftypheic" + b"\x00" * 8, None),  # a box size shorter than its brands
        (b"\x00\x00\x00\x18ftyp", None),  # too short to hold a brand
    ],
)
def test_an_iso_bmff_picture_is_named_by_its_brands(head: bytes, kind: str | None) -> None:
    assert iso_bmff_type(head) == kind
    assert image_type(head) == kind  # what an upload is stored as


@pytest.mark.parametrize("orientation", ORIENTATIONS)
@pytest.mark.parametrize("fmt", FORMATS)
def test_the_recognizer_decodes_a_phone_photo_upright_once(tmp_path, upright, fmt, orientation):
    # Turned zero times or twice, a quarter turn changes the shape and any turn the pixels.
    path = tmp_path / f"o{orientation}.{fmt}"
    write_phone_photo(upright, path, orientation)
    assert mean_difference(load_image_file(path), upright) < 4


@pytest.mark.parametrize("orientation", [3, 6, 7, 8])
@pytest.mark.parametrize("fmt", FORMATS)
def test_the_frontend_previews_and_sizes_a_phone_photo_upright(tmp_path, upright, fmt, orientation):
    root = tmp_path / "root"
    root.mkdir()
    write_phone_photo(upright, root / f"tagged.{fmt}", orientation)
    Image.fromarray(upright).save(root / "twin.png")
    thumbnails = Thumbnailer(root, tmp_path / "cache")
    height, width = upright.shape[:2]
    assert thumbnails.size(f"tagged.{fmt}") == (width, height)
    preview = rgb_pixels(thumbnails.preview(f"tagged.{fmt}", 120))
    assert mean_difference(preview, rgb_pixels(thumbnails.preview("twin.png", 120))) < 4


@pytest.fixture(scope="module")
def heic(tmp_path_factory, upright) -> bytes:
    path = tmp_path_factory.mktemp("heic") / "photo.heic"
    write_phone_photo(upright, path, 6)
    return path.read_bytes()


def test_a_truncated_heic_is_not_an_image_saying_why(tmp_path, heic):
    path = tmp_path / "cut.heic"
    path.write_bytes(heic[: len(heic) // 2])
    with pytest.raises(
        NotAnImage, match=r"'cut.heic' is not a readable image: not a readable HEIC file: .*end of file"
    ):
        load_image_file(path)


def test_a_heic_claiming_too_many_pixels_is_refused_from_its_header(tmp_path, heic):
    # 81 M pixels: over IMAGE_MAX_PIXELS (80 M), under Pillow's own bomb warning (89 M). Decoding
    # would find the real 157 x 300 and fail otherwise: the limit's message shows it never ran.
    path = tmp_path / "claims.heic"
    path.write_bytes(claiming_size(heic, 9000, 9000))
    with pytest.raises(ImageFileRefused, match="image is 9000x9000, over the 80000000-pixel limit"):
        load_image_file(path)
    root = tmp_path / "root"
    root.mkdir()
    path.rename(root / "claims.heic")
    with pytest.raises(PreviewUnavailable, match="9000x9000"):
        Thumbnailer(root, tmp_path / "cache").preview("claims.heic", 120)


def test_a_heic_padded_with_thousands_of_boxes_is_refused_without_walking_them(tmp_path, heic):
    # 8-byte `free` boxes after the picture: libheif skips them, and the header walk read each
    # one in Python (a 48 MB file: seconds of a recognizer's core per post).
    path = tmp_path / "padded.heic"
    path.write_bytes(heic + b"\0\0\0\x08free" * (MAX_BOXES + 1))
    with pytest.raises(NotAnImage, match=f"over {MAX_BOXES} boxes side by side"):
        load_image_file(path)
    path.write_bytes(heic + b"\0\0\0\x08free" * 100)  # some padding is a photo still
    assert load_image_file(path).shape[2] == 3


def test_a_heic_grid_larger_than_its_claimed_size_is_refused_before_decoding(tmp_path):
    """A grid's canvas is in its own data, not in its ispe, and libheif allocates it whole before
    comparing the two: 1.5 kB claiming 1024 x 1024 would be decoded as 9216 x 9216 (85 M pixels,
    over the 80 M limit). At 2048-pixel tiles, 1.6 kB made it allocate ~500 MB."""
    path = tmp_path / "grid.heic"
    path.write_bytes(grid_bomb(1024, 9))
    with pytest.raises(ImageFileRefused, match="image is 9216x9216, over the 80000000-pixel limit"):
        load_image_file(path)
    path.write_bytes(grid_bomb(64, 1))  # a grid as phones write them: its canvas is its ispe
    assert load_image_file(path).shape == (64, 64, 3)


@pytest.mark.parametrize("fmt", FORMATS)
def test_an_uploaded_phone_photo_is_stored_under_its_format(tmp_path, upright, fmt):
    path = tmp_path / f"photo.{fmt}"
    write_phone_photo(upright, path)
    stored = UploadStore(tmp_path / "root", max_bytes=1 << 24).store(path.read_bytes())
    assert stored.relative_path.endswith(f".{fmt}")


def test_an_uploaded_video_is_refused(tmp_path):
    store = UploadStore(tmp_path / "root", max_bytes=1 << 24)
    with pytest.raises(UploadRejected, match="HEIC, AVIF"):
        store.store(_ftyp(b"isom", b"isom", b"mp41") + bytes(200))
