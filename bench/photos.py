"""The benchmark's photos: ../shared/faces with its MANIFEST.csv, or the face_recognition sdist's."""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

from kubeface.samples import SDIST_PHOTOS, sdist_photos
from tests.photos import SHARED_FACES

# One reference photo per person: the gallery both pipelines are matched against.
# lin_manuel_miranda is left out on purpose: his photo must match nobody.
REFERENCES = {
    "obama": "obama.jpg",
    "biden": "people/biden/biden2.jpg",
    "alex_lacamoire": "people/alex_lacamoire/img1.jpg",
    "kit_harington": "people/kit_harington/john1.jpeg",
    "rose_leslie": "people/rose_leslie/img1.jpg",
}


@dataclass(frozen=True)
class Photo:
    path: Path
    name: str  # relative to the root
    persons: tuple[str, ...]


def photo_set() -> tuple[Path, list[Photo], dict[str, str]]:
    """The root, its photos and the reference photo of each known person."""
    if (SHARED_FACES / "MANIFEST.csv").exists():
        with open(SHARED_FACES / "MANIFEST.csv", newline="") as manifest:
            rows = list(csv.DictReader(manifest))
        photos = [Photo(SHARED_FACES / r["file"], r["file"], tuple(r["persons"].split(";"))) for r in rows]
        return SHARED_FACES, photos, REFERENCES
    root = sdist_photos()
    photos = [Photo(root / n, n, ("biden",) if "biden" in n else ("obama",)) for n in SDIST_PHOTOS]
    return root, photos, {"obama": "obama.jpg"}
