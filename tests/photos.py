"""Face photographs for the tests: the face_recognition 1.3.0 sdist's, cached, and ../shared/faces."""

from __future__ import annotations

import shutil
from pathlib import Path

import cv2
import numpy as np

from kubeface.samples import SDIST_PHOTOS, sdist_photos, side_by_side
from tests.servers import REPO

SHARED_FACES = REPO.parent / "shared" / "faces"


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
