"""Face photographs for the tests: the face_recognition 1.3.0 sdist's, cached, and ../shared/faces."""

from __future__ import annotations

import os
import shutil
import socket
import struct
import subprocess
import sys
import tarfile
import tempfile
import zlib
from pathlib import Path

import cv2
import numpy as np

from tests.servers import REPO

SDIST = "face_recognition==1.3.0"
CACHE = REPO / ".cache" / "face_recognition-1.3.0"
SHARED_FACES = REPO.parent / "shared" / "faces"
SDIST_PHOTOS = [
    "obama.jpg",
    "obama2.jpg",
    "obama3.jpg",
    "biden.jpg",
    "32bit.png",
    "obama_partial_face.jpg",
    "obama_partial_face2.jpg",
]


def sdist_photos() -> Path:
    """The sdist's tests/test_images, downloaded once into .cache/."""
    target = CACHE / "test_images"
    if all((target / name).exists() for name in SDIST_PHOTOS):
        return target
    download = CACHE / "download"
    download.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "download",
            "-q",
            "--no-deps",
            "--no-binary",
            ":all:",
            SDIST,
            "-d",
            str(download),
        ],
        check=True,
    )
    archive = next(download.glob("face_recognition-1.3.0.tar.gz"))
    with tarfile.open(archive) as tar:
        for member in tar.getmembers():
            if "/tests/test_images/" in member.name and member.isfile():
                member.name = Path(member.name).name
                tar.extract(member, target, filter="data")
    return target


def populate_image_root(root: Path) -> None:
    """Lay out the photos the tests post, plus images made for edge cases."""
    photos = sdist_photos()
    for name in SDIST_PHOTOS:
        shutil.copy(photos / name, root / name)
    (root / "known").mkdir()
    shutil.copy(photos / "obama.jpg", root / "known" / "obama.jpg")
    shutil.copy(photos / "biden.jpg", root / "known" / "biden.jpg")
    obama, biden = cv2.imread(str(photos / "obama.jpg")), cv2.imread(str(photos / "biden.jpg"))
    height = 600
    side_by_side = [
        cv2.resize(img, (round(img.shape[1] * height / img.shape[0]), height)) for img in (obama, biden)
    ]
    cv2.imwrite(str(root / "two_faces.jpg"), np.hstack(side_by_side))
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
