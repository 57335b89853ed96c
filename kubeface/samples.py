"""Sample face photos for a first run: `make samples` (or `python -m kubeface.samples DIR`).

The photos are the ones face_recognition 1.3.0 ships in its source distribution on PyPI, so a
plain clone needs nothing but pip. The tests use the same download (tests/photos.py).
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

from PIL import Image

SDIST = "face_recognition==1.3.0"
SDIST_PHOTOS = (
    "obama.jpg",
    "obama2.jpg",
    "obama3.jpg",
    "biden.jpg",
    "32bit.png",
    "obama_partial_face.jpg",
    "obama_partial_face2.jpg",
)
DEFAULT_CACHE = Path(__file__).resolve().parent.parent / ".cache" / "face_recognition-1.3.0"


def sdist_photos(cache: Path = DEFAULT_CACHE) -> Path:
    """The sdist's tests/test_images folder, downloaded once into `cache`."""
    target = cache / "test_images"
    if all((target / name).exists() for name in SDIST_PHOTOS):
        return target
    download = cache / "download"
    download.mkdir(parents=True, exist_ok=True)
    pip = [sys.executable, "-m", "pip", "download", "-q", "--no-deps", "--no-binary", ":all:"]
    subprocess.run([*pip, SDIST, "-d", str(download)], check=True)
    archive = next(download.glob("face_recognition-1.3.0.tar.gz"))
    with tarfile.open(archive) as tar:
        for member in tar.getmembers():
            if "/tests/test_images/" in member.name and member.isfile():
                member.name = Path(member.name).name
                tar.extract(member, target, filter="data")
    return target


def side_by_side(left: Path, right: Path, out: Path, height: int = 600) -> None:
    """One picture of two people: both photos scaled to `height` and put next to each other."""
    photos = [Image.open(path).convert("RGB") for path in (left, right)]
    scaled = [photo.resize((round(photo.width * height / photo.height), height)) for photo in photos]
    canvas = Image.new("RGB", (sum(photo.width for photo in scaled), height))
    canvas.paste(scaled[0], (0, 0))
    canvas.paste(scaled[1], (scaled[0].width, 0))
    canvas.save(out, quality=92)


def lay_out_samples(root: Path) -> list[str]:
    """Copy the sample photos into `root`, plus `two_people.jpg`; the names written."""
    photos = sdist_photos()
    root.mkdir(parents=True, exist_ok=True)
    for name in SDIST_PHOTOS:
        shutil.copy(photos / name, root / name)
    side_by_side(photos / "obama2.jpg", photos / "biden.jpg", root / "two_people.jpg")
    return [*SDIST_PHOTOS, "two_people.jpg"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("root", type=Path, nargs="?", default=Path("images"), help="the image root")
    names = lay_out_samples(parser.parse_args().root)
    print(f"{len(names)} sample photos: {', '.join(names)}")  # noqa: T201 - this command's output


if __name__ == "__main__":
    main()
