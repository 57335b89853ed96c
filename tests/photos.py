"""Face photographs for the tests: the face_recognition 1.3.0 sdist's, cached, and ../shared/faces."""

from __future__ import annotations

import io
import os
import shutil
import socket
import struct
import tempfile
import uuid
import zlib
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

from kubeface.image_formats import register_formats
from kubeface.samples import SDIST_PHOTOS, sdist_photos, side_by_side
from tests.servers import REPO

SHARED_FACES = REPO.parent / "shared" / "faces"

# Enrolment is global: a face one test enrols is known to every later test, whatever its name.
# So each sample face has one role, and a test's outcome never depends on which tests ran first.
# Faces no test enrols under ANY name: a test may expect these to be unknown. The sdist holds
# only Obama (enrolled for the session) and Biden, so Biden is the stranger.
NEVER_ENROLLED = (
    "biden.jpg",
    "known/biden.jpg",
    "two_faces.jpg",  # Obama on the left, Biden on the right
    "shared/biden.jpg",
    "shared/two_people.jpg",
    "shared/people/biden/biden2.jpg",
)
# Obama is enrolled once, as "obama", for the whole session: no test enrols his face (nor a
# mirrored or edited copy of it) under another name, or his photos stop being "obama".
SESSION_FACE = ("obama", "obama2.jpg")
# Enrolled by several tests, each under a name of its own; no test asserts who it is recognised
# as, nor that it is unknown.
SPARE_FACE = "shared/lin-manuel-miranda.png"
# Faces owned by one test each, which enrols them and then expects them to be recognised.
ENROLMENT_FACE = "shared/people/alex_lacamoire/img1.jpg"  # test_enrolment; posts the next one
ENROLMENT_FACE_OTHER_PHOTO = "shared/alex-lacamoire.png"
CLI_FACES = "shared/people/kit_harington"  # test_cli's enroll --from-dir
BROWSER_FACES = "shared/people/rose_leslie"  # tests/browser: PENDING first, then enrolled


def unique_name(prefix: str) -> str:
    """A person name (or path part) no other test uses: tests isolate by their own data."""
    return f"{prefix}_{uuid.uuid4().hex[:10]}"


def photo_copy(image_root: Path, sample: str, folder: str = "copies") -> str:
    """A copy of `sample` at a path of its own under `image_root`, relative to it.

    Posting it makes a row of this test's own: a post of a path some other test posted first
    answers with that test's row and outcome.
    """
    relative = f"{folder}/{unique_name('t')}/{Path(sample).name}"
    target = image_root / relative
    target.parent.mkdir(parents=True)
    shutil.copy(image_root / sample, target)
    return relative


def populate_image_root(root: Path) -> None:
    """Lay out the photos the tests post, plus images made for edge cases."""
    photos = sdist_photos()
    for name in SDIST_PHOTOS:
        shutil.copy(photos / name, root / name)
    (root / "known").mkdir()
    shutil.copy(photos / "obama.jpg", root / "known" / "obama.jpg")
    shutil.copy(photos / "biden.jpg", root / "known" / "biden.jpg")
    side_by_side(photos / "obama.jpg", photos / "biden.jpg", root / "two_faces.jpg")
    gradient = np.tile(np.linspace(0, 255, 400, dtype=np.uint8), (300, 1))
    cv2.imwrite(str(root / "no_face.png"), cv2.merge([gradient, gradient[::-1], gradient]))
    (root / "corrupt.jpg").write_bytes(b"this is not a JPEG at all\n")
    truncated = (photos / "obama2.jpg").read_bytes()
    (root / "truncated.jpg").write_bytes(truncated[: len(truncated) // 3])
    if SHARED_FACES.is_dir():
        shutil.copytree(SHARED_FACES, root / "shared")


def write_blank_png(path: Path, width: int, height: int) -> None:
    """A grey RGB PNG of any size, written a row at a time: a huge picture, a small file."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    packer = zlib.compressobj(9)
    row = b"\x00" + b"\x80" * (width * 3)  # filter byte "none", then the pixels
    idat = b"".join(packer.compress(row) for _ in range(height)) + packer.flush()
    with open(path, "wb") as out:
        out.write(b"\x89PNG\r\n\x1a\n")
        out.write(chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)))
        out.write(chunk(b"IDAT", idat))
        out.write(chunk(b"IEND", b""))


def make_socket(path: Path) -> None:
    """A unix socket file at `path` (bound at a short name first: sun_path holds 108 bytes)."""
    short = Path(tempfile.mkdtemp(dir="/tmp")) / "s"
    with socket.socket(socket.AF_UNIX) as sock:
        sock.bind(str(short))
    os.rename(short, path)
    short.parent.rmdir()


# How each EXIF orientation stores an upright picture, written from the EXIF spec's meaning of the
# tag (which way the stored rows run), independently of the code under test: a viewer that applies
# the tag to these pixels shows the upright picture again.
_STORED_AS = {
    1: lambda a: a,
    2: lambda a: a[:, ::-1],  # mirrored left-right
    3: lambda a: a[::-1, ::-1],  # upside down
    4: lambda a: a[::-1, :],  # mirrored top-bottom
    5: lambda a: a.swapaxes(0, 1),  # mirrored along the main diagonal
    6: lambda a: np.rot90(a, 1),  # turned a quarter anticlockwise: viewers turn it clockwise
    7: lambda a: np.rot90(a, 2).swapaxes(0, 1),  # mirrored along the other diagonal
    8: lambda a: np.rot90(a, -1),  # turned a quarter clockwise: viewers turn it anticlockwise
}


def write_oriented(upright: np.ndarray, orientation: int, path: Path, **save: object) -> None:
    """Store an upright RGB picture the way a camera would with this EXIF orientation tag."""
    exif = Image.Exif()
    exif[0x0112] = orientation
    stored = np.ascontiguousarray(_STORED_AS[orientation](upright))
    Image.fromarray(stored).save(path, exif=exif.tobytes(), **save)


def write_phone_photo(upright: np.ndarray, path: Path, orientation: int = 1, note: str = "") -> None:
    """Store an upright RGB picture as a phone does, as HEIC or AVIF by `path`'s suffix.

    The pixels are stored turned as `write_oriented` turns them; the writer (pillow-heif for
    HEIC, Pillow for AVIF) puts the orientation in the container (irot/imir), and the EXIF tag
    stays as an iPhone leaves it. `note` goes into the EXIF description: the same picture in
    new bytes, for a test that uploads it.
    """
    register_formats()  # pillow-heif's HEIC writer
    exif = Image.Exif()
    exif[0x0112] = orientation
    if note:
        exif[0x010E] = note
    stored = np.ascontiguousarray(_STORED_AS[orientation](upright))
    Image.fromarray(stored).save(path, exif=exif.tobytes(), quality=90)
    if orientation != 1:
        assert b"irot" in path.read_bytes() or b"imir" in path.read_bytes(), "no transform in the container"


def claiming_size(heic: bytes, width: int, height: int) -> bytes:
    """The HEIC with its image's spatial extents (ispe) claiming another size; pixels unchanged."""
    at = heic.index(b"ispe") + 8  # after the box type and the full box's version and flags
    return heic[:at] + struct.pack(">II", width, height) + heic[at + 8 :]


def grid_bomb(tile: int, tiles: int) -> bytes:
    """A HEIC whose primary image is a `tiles` x `tiles` grid of one red `tile`-pixel square, its
    spatial extents (ispe) claiming one tile: a kilobyte or two that libheif decodes whole."""
    register_formats()
    stored = io.BytesIO()
    Image.new("RGB", (tile, tile), "red").save(stored, format="HEIF", quality=10)
    heic = stored.getvalue()
    ftyp, hdlr, ipco, mdat = (_box_at(heic, kind) for kind in (b"ftyp", b"hdlr", b"ipco", b"mdat"))
    coded = mdat[8:]
    side = tile * tiles
    grid = bytes([0, 1, tiles - 1, tiles - 1]) + struct.pack(">II", side, side)  # 32-bit sizes
    at = len(ftyp) + 8  # the tile's bytes, then the grid's, in one mdat after the ftyp
    items = [(1, at, len(coded)), (2, at + len(coded), len(grid))]
    meta = b"".join(
        [
            hdlr,
            _full_box(b"pitm", struct.pack(">H", 2)),
            _full_box(
                b"iloc",
                b"\x44\x00"
                + struct.pack(">H", 2)
                + b"".join(struct.pack(">HHHII", i, 0, 1, o, n) for i, o, n in items),
            ),
            _full_box(
                b"iinf",
                struct.pack(">H", 2)
                + _full_box(b"infe", struct.pack(">HH", 1, 0) + b"hvc1\0", version=2, flags=1)
                + _full_box(b"infe", struct.pack(">HH", 2, 0) + b"grid\0", version=2),
            ),
            _full_box(
                b"iref", _box(b"dimg", struct.pack(">HH", 2, tiles * tiles) + struct.pack(">H", 1) * tiles**2)
            ),
            # The tile's properties as written (hvcC, colr, ispe, pixi); the grid: that ispe (3).
            _box(
                b"iprp",
                ipco
                + _full_box(
                    b"ipma",
                    struct.pack(">IHB", 2, 1, 4)
                    + bytes([0x81, 2, 3, 4])
                    + struct.pack(">HB", 2, 1)
                    + bytes([3]),
                ),
            ),
        ]
    )
    return ftyp + _box(b"mdat", coded + grid) + _full_box(b"meta", meta)


def _box_at(data: bytes, kind: bytes) -> bytes:
    """The first box of `kind` in an ISO-BMFF file, found by its type (here: unambiguous)."""
    at = data.index(kind) - 4
    return data[at : at + int.from_bytes(data[at : at + 4], "big")]


def _box(kind: bytes, payload: bytes) -> bytes:
    return struct.pack(">I", 8 + len(payload)) + kind + payload


def _full_box(kind: bytes, payload: bytes, version: int = 0, flags: int = 0) -> bytes:
    return _box(kind, bytes([version]) + flags.to_bytes(3, "big") + payload)


# What a viewer shows for stored pixels with each tag: the inverse of _STORED_AS.
_SHOWN_AS = {
    1: lambda a: a,
    2: lambda a: a[:, ::-1],
    3: lambda a: a[::-1, ::-1],
    4: lambda a: a[::-1, :],
    5: lambda a: a.swapaxes(0, 1),
    6: lambda a: np.rot90(a, -1),
    7: lambda a: np.rot90(a, 2).swapaxes(0, 1),
    8: lambda a: np.rot90(a, 1),
}


def shown_upright(stored: np.ndarray, orientation: int) -> np.ndarray:
    """The upright picture a viewer shows for stored pixels tagged with this orientation."""
    return np.ascontiguousarray(_SHOWN_AS[orientation](stored))


def lopsided_photo() -> np.ndarray:
    """obama2.jpg at a quarter size: a real, lopsided photo (not square, not symmetric), so that a
    turn or a mirror left out or done twice changes its shape or its pixels."""
    with Image.open(sdist_photos() / "obama2.jpg") as img:
        return np.asarray(img.convert("RGB").reduce(4))


def mean_difference(a: np.ndarray, b: np.ndarray) -> float:
    """Mean absolute difference per channel of two pictures of one shape (lossy codecs differ a little)."""
    assert a.shape == b.shape
    return float(np.abs(a.astype(np.int16) - b.astype(np.int16)).mean())


def rgb_pixels(path: Path) -> np.ndarray:
    """A photo's stored pixels as an RGB array (no EXIF applied)."""
    with Image.open(path) as img:
        return np.asarray(img.convert("RGB"))


def beside_smaller(left: Path, right: Path, out: Path, right_height: int = 400) -> None:
    """Two people in one picture: `left` at full size, `right` scaled to `right_height` beside it,
    so that the right-hand face is the smaller one (not the one Encode picks without a box)."""
    with Image.open(left) as big, Image.open(right) as small:
        big, small = big.convert("RGB"), small.convert("RGB")
        small = small.resize((round(small.width * right_height / small.height), right_height))
        canvas = Image.new("RGB", (big.width + small.width, max(big.height, right_height)), "white")
        canvas.paste(big, (0, 0))
        canvas.paste(small, (big.width, 0))
    canvas.save(out, quality=92)
