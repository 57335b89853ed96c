"""Decoding images, finding faces and encoding them with dlib (through face_recognition)."""

from __future__ import annotations

import importlib
import threading
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

import cv2
import numpy as np
from PIL import Image, ImageFile, UnidentifiedImageError

from kubeface.settings import DetectionModel

# Beyond this many pixels an image is refused rather than decoded (decompression bombs).
MAX_IMAGE_PIXELS = 80_000_000


class ImageError(Exception):
    """The image itself is unusable; retrying will not help."""


class ImageNotFound(ImageError):
    pass


class NotAnImage(ImageError):
    pass


class NoFaceFound(ImageError):
    pass


@dataclass(frozen=True)
class Box:
    top: int
    right: int
    bottom: int
    left: int

    @property
    def area(self) -> int:
        return max(0, self.bottom - self.top) * max(0, self.right - self.left)


@dataclass(frozen=True)
class FoundFace:
    box: Box
    encoding: np.ndarray  # shape (128,), float64


def load_image(path: Path) -> np.ndarray:
    """Read a file as an RGB array, or raise ImageNotFound / NotAnImage saying why."""
    if not path.exists():
        raise ImageNotFound(f"no file at {path.name!r}")
    if path.is_dir():
        raise NotAnImage(f"{path.name!r} is a directory, not an image")
    try:
        with Image.open(path) as img:
            width, height = img.size
            if width * height > MAX_IMAGE_PIXELS:
                raise NotAnImage(f"image is {width}x{height}, over the {MAX_IMAGE_PIXELS}-pixel limit")
            return np.asarray(img.convert("RGB"))
    except FileNotFoundError as exc:
        raise ImageNotFound(f"no file at {path.name!r}") from exc
    except Image.DecompressionBombError as exc:
        raise NotAnImage(f"image claims too many pixels: {exc}") from exc
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError) as exc:
        raise NotAnImage(f"{path.name!r} is not a readable image: {exc}") from exc


class FaceDetector:
    """Finds and encodes faces; one call at a time.

    dlib's models are not safe to call from several threads at once (concurrent calls crashed
    the recognizer with a segfault), and dlib holds the GIL, so threads would not add speed
    anyway. More cores mean more recognizer processes.
    """

    def __init__(self, model: DetectionModel, upsample: int, max_side: int) -> None:
        # Importing face_recognition loads the dlib models (seconds); done once, here.
        self._fr: ModuleType = importlib.import_module("face_recognition")
        # face_recognition turns on PIL's LOAD_TRUNCATED_IMAGES at import, which decodes a cut-off
        # file as a grey-padded picture. A truncated upload must fail as "not a readable image".
        ImageFile.LOAD_TRUNCATED_IMAGES = False
        dlib = importlib.import_module("dlib")
        if model is DetectionModel.AUTO:
            model = DetectionModel.CNN if getattr(dlib, "DLIB_USE_CUDA", False) else DetectionModel.HOG
        self.model = model
        self.upsample = upsample
        self.max_side = max_side
        self._dlib_lock = threading.Lock()

    def find_faces(self, image: np.ndarray) -> list[FoundFace]:
        with self._dlib_lock:
            boxes = self._locate(image)
            if not boxes:
                return []
            locations = [(b.top, b.right, b.bottom, b.left) for b in boxes]
            encodings = self._fr.face_encodings(image, known_face_locations=locations)
        return [
            FoundFace(box, np.asarray(enc, dtype=np.float64))
            for box, enc in zip(boxes, encodings, strict=True)
        ]

    def encode_largest(self, image: np.ndarray) -> tuple[FoundFace, int]:
        """The largest face and how many were found; NoFaceFound when there is none."""
        with self._dlib_lock:
            boxes = self._locate(image)
            if not boxes:
                raise NoFaceFound("no face found in the image")
            largest = max(boxes, key=lambda b: b.area)
            location = [(largest.top, largest.right, largest.bottom, largest.left)]
            encoding = self._fr.face_encodings(image, known_face_locations=location)[0]
        return FoundFace(largest, np.asarray(encoding, dtype=np.float64)), len(boxes)

    def _locate(self, image: np.ndarray) -> list[Box]:
        height, width = image.shape[:2]
        scale = 1.0
        small = image
        if self.max_side and max(height, width) > self.max_side:
            # Detection on a smaller copy is much cheaper; encoding still uses full resolution.
            scale = self.max_side / max(height, width)
            small = cv2.resize(
                image, (round(width * scale), round(height * scale)), interpolation=cv2.INTER_AREA
            )
        found = self._fr.face_locations(
            small, number_of_times_to_upsample=self.upsample, model=self.model.value
        )
        boxes = []
        for top, right, bottom, left in found:
            boxes.append(
                Box(
                    top=max(0, round(top / scale)),
                    right=min(width, round(right / scale)),
                    bottom=min(height, round(bottom / scale)),
                    left=max(0, round(left / scale)),
                )
            )
        return boxes
