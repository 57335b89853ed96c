"""Decoding images, finding faces and encoding them with dlib (through face_recognition)."""

from __future__ import annotations

import importlib
import logging
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

import cv2
import numpy as np
from PIL import Image, ImageFile, UnidentifiedImageError
from prometheus_client import Histogram

from kubeface.dlib_build import check_installed_dlib
from kubeface.image_files import ImageFiles
from kubeface.orientation import decode_upright
from kubeface.paths import ImagePath, resolve_image_path
from kubeface.recognition_errors import FaceBoxRefused, ImageUnusable
from kubeface.recognition_errors import NoFaceFound as NoFace
from kubeface.settings import DetectionModel

log = logging.getLogger(__name__)

_STAGE_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 4, 8)
DETECT_SECONDS = Histogram(
    "recognizer_detect_seconds", "Face detection time per image", buckets=_STAGE_BUCKETS
)
ENCODE_SECONDS = Histogram(
    "recognizer_encode_seconds", "Encoding time per image (all faces)", buckets=_STAGE_BUCKETS
)


class ImageError(Exception):
    """The image itself is unusable; retrying will not help."""


class NotAnImage(ImageError, ImageUnusable):
    pass


class NoFaceFound(ImageError, NoFace):
    pass


class BadFaceBox(ImageError, FaceBoxRefused):
    pass


# How much a detected face must share with the box Encode was given (intersection over union) to
# be the face in that box. Identify's own boxes come back exactly (1.0) while the file is unchanged.
MIN_BOX_OVERLAP = 0.5

# The smallest box side Encode accepts: dlib's detectors find no face under about 20 px (HOG with
# one upsample), so a smaller box is a mistake, and its 5 landmarks would be noise.
MIN_FACE_SIDE = 20


@dataclass(frozen=True)
class Box:
    top: int
    right: int
    bottom: int
    left: int

    @property
    def area(self) -> int:
        return max(0, self.bottom - self.top) * max(0, self.right - self.left)

    def overlap(self, other: Box) -> float:
        """Intersection over union: 1.0 for the same box, 0.0 for boxes that do not touch."""
        inner = Box(
            max(self.top, other.top),
            min(self.right, other.right),
            min(self.bottom, other.bottom),
            max(self.left, other.left),
        ).area
        return inner / (self.area + other.area - inner) if inner else 0.0

    def check_fits(self, height: int, width: int) -> None:
        """BadFaceBox, saying what is wrong, unless the box lies inside a height x width picture
        and each side is at least MIN_FACE_SIDE pixels."""
        if not (0 <= self.left < self.right <= width and 0 <= self.top < self.bottom <= height):
            raise BadFaceBox(
                f"face box (top {self.top}, right {self.right}, bottom {self.bottom}, left {self.left})"
                f" is not inside the {width}x{height} upright picture; give a box from Identify's faces"
            )
        if min(self.right - self.left, self.bottom - self.top) < MIN_FACE_SIDE:
            raise BadFaceBox(
                f"face box {self.right - self.left}x{self.bottom - self.top} px is too small to hold a"
                f" face; each side must be at least {MIN_FACE_SIDE} px"
            )


@dataclass(frozen=True)
class FoundFace:
    box: Box
    encoding: np.ndarray  # shape (128,), float64


class ImageFaces(list[FoundFace]):
    """The faces found in one image, with the seconds its detection and encoding took."""

    def __init__(self, faces: Iterable[FoundFace], detect_seconds: float, encode_seconds: float) -> None:
        super().__init__(faces)
        self.detect_seconds = detect_seconds
        self.encode_seconds = encode_seconds


# 16- and 32-bit greyscale: PIL's convert("RGB") clips them to white instead of scaling.
_WIDE_GREY_MODES = {"I", "I;16", "I;16B", "I;16L", "I;16N"}


def _wide_grey_to_rgb(pixels: np.ndarray) -> np.ndarray:
    top = 65535 if pixels.max(initial=0) <= 65535 else pixels.max()
    grey = (pixels.astype(np.float32) * (255.0 / top)).round().astype(np.uint8)
    return np.repeat(grey[:, :, None], 3, axis=2)


def load_image(files: ImageFiles, image_path: ImagePath) -> np.ndarray:
    """Read a file under the image root as an RGB array, upright (its EXIF orientation applied).

    Raises ImageFileMissing / ImageFileRefused (kubeface.image_files) for a file that must not
    be read, and NotAnImage for one that is not a readable picture, saying why.
    """
    name = image_path.relative[:200]
    with files.open(image_path) as stream:
        try:
            with files.open_picture(stream) as img:
                # PIL (libjpeg-turbo) rather than OpenCV: OpenCV grey-pads a truncated JPEG silently.
                # Upright, so boxes are in the pixels of the picture the frontend shows.
                picture = decode_upright(img, name)
                # An RGB image is viewed as an array directly; convert() would copy it once more.
                if picture.mode in _WIDE_GREY_MODES:
                    return _wide_grey_to_rgb(np.asarray(picture))
                if picture.mode != "RGB":
                    return np.asarray(picture.convert("RGB"))
                return np.asarray(picture)
        except Image.DecompressionBombError as exc:
            raise NotAnImage(f"image claims too many pixels: {exc}") from exc
        except (UnidentifiedImageError, OSError, ValueError, SyntaxError) as exc:
            # PIL reads a stream here, so its messages name no server path.
            raise NotAnImage(f"{name!r} is not a readable image: {exc}") from exc


def load_image_file(path: Path) -> np.ndarray:
    """`load_image` for a file named directly (benchmarks, tests): its folder is the root."""
    return load_image(ImageFiles(path.parent), resolve_image_path(path.parent, path.name))


# dlib's HOG detector scans an image pyramid that shrinks by 5/6 per level, and the upsample
# doubles the image first, so plain face_recognition looks at scales 2 * (5/6)**k.
PYRAMID_STEP = 5 / 6


def detection_scale(height: int, width: int, max_side: int, upsample: int = 1) -> float:
    """The scale to detect at: the largest 2**upsample * (5/6)**k that fits `max_side`.

    Staying on the pyramid that plain face_recognition scans finds the same boxes it finds
    (only faces too small for the chosen level are left to the upsampling pass), so faces
    are encoded from the same crops and distances stay the same.
    """
    longest = max(height, width)
    limit = min(1.0, max_side / longest) if max_side else 1.0
    scale = float(2**upsample)
    while scale > limit:
        scale *= PYRAMID_STEP
    return scale


def map_box(found: tuple[int, int, int, int], scale: float, height: int, width: int) -> Box:
    """A (top, right, bottom, left) box found on a copy scaled by `scale`, in full-size pixels."""
    top, right, bottom, left = found
    return Box(
        top=max(0, round(top / scale)),
        right=min(width, round(right / scale)),
        bottom=min(height, round(bottom / scale)),
        left=max(0, round(left / scale)),
    )


class FaceDetector:
    """Finds and encodes faces; one call at a time.

    dlib's models are not safe to call from several threads at once (concurrent calls crashed
    the recognizer with a segfault), and dlib holds the GIL, so threads would not add speed
    anyway. More cores mean more recognizer processes; a GPU gets batches (`find_faces_batch`).
    """

    def __init__(
        self, model: DetectionModel, upsample: int, max_side: int, *, adaptive_upsample: bool = True
    ) -> None:
        # A dlib compiled for a higher x86-64 level than this CPU's would die of SIGILL later.
        check_installed_dlib()
        # Importing face_recognition loads the dlib models (seconds); done once, here.
        self._fr: ModuleType = importlib.import_module("face_recognition")
        # face_recognition turns on PIL's LOAD_TRUNCATED_IMAGES at import, which decodes a cut-off
        # file as a grey-padded picture. A truncated upload must fail as "not a readable image".
        ImageFile.LOAD_TRUNCATED_IMAGES = False
        self._dlib = importlib.import_module("dlib")
        self.uses_cuda = cuda_available(self._dlib)
        if model is DetectionModel.AUTO:
            model = DetectionModel.CNN if self.uses_cuda else DetectionModel.HOG
        self.model = model
        self.upsample = upsample
        self.max_side = max_side
        self.adaptive_upsample = adaptive_upsample
        self._dlib_lock = threading.Lock()

    def find_faces(self, image: np.ndarray) -> ImageFaces:
        return self.find_faces_batch([image])[0]

    def find_faces_batch(self, images: list[np.ndarray]) -> list[ImageFaces]:
        """The faces of each image. dlib sees the images together: on a GPU, the CNN detector
        runs once per image size and the encoder once for all faces. Each image is charged an
        equal share of detection time, and of encoding time its share of the batch's faces."""
        with self._dlib_lock:
            started = time.perf_counter()
            boxes = self._locate_many(images)
            detect_each = (time.perf_counter() - started) / len(images)
            for _ in images:
                DETECT_SECONDS.observe(detect_each)
            with_faces = [i for i, found in enumerate(boxes) if found]
            started = time.perf_counter()
            encodings = self._encode_many([images[i] for i in with_faces], [boxes[i] for i in with_faces])
            encode_per_face = (time.perf_counter() - started) / max(1, sum(len(b) for b in boxes))
            for i in with_faces:
                ENCODE_SECONDS.observe(encode_per_face * len(boxes[i]))
        faces = [ImageFaces((), detect_each, 0.0) for _ in images]
        for i, image_encodings in zip(with_faces, encodings, strict=True):
            found = [
                FoundFace(box, np.asarray(encoding, dtype=np.float64))
                for box, encoding in zip(boxes[i], image_encodings, strict=True)
            ]
            faces[i] = ImageFaces(found, detect_each, encode_per_face * len(found))
        return faces

    def encode_largest(self, image: np.ndarray) -> tuple[FoundFace, int]:
        """The largest face and how many were found; NoFaceFound when there is none."""
        with self._dlib_lock:
            [boxes] = self._locate_many([image])
            if not boxes:
                raise NoFaceFound("no face found in the image")
            largest = max(boxes, key=lambda b: b.area)
            [[encoding]] = self._encode_many([image], [[largest]])
        return FoundFace(largest, np.asarray(encoding, dtype=np.float64)), len(boxes)

    def encode_box(self, image: np.ndarray, box: Box) -> FoundFace:
        """The face in `box` (pixels of the upright picture): the detected face that overlaps it
        most, so that what gets enrolled is a face even if the file changed since the box was
        found. BadFaceBox when the box does not fit the picture, NoFaceFound when no face is in it."""
        box.check_fits(*image.shape[:2])
        with self._dlib_lock:
            [boxes] = self._locate_many([image])
            best = max(boxes, key=box.overlap, default=None)
            if best is None or box.overlap(best) < MIN_BOX_OVERLAP:
                raise NoFaceFound(
                    f"no face found in the box (top {box.top}, right {box.right}, bottom {box.bottom},"
                    f" left {box.left}); the picture may have changed since: identify it again"
                )
            [[encoding]] = self._encode_many([image], [[best]])
        return FoundFace(best, np.asarray(encoding, dtype=np.float64))

    def _encode_many(self, images: list[np.ndarray], boxes: list[list[Box]]) -> list[list[np.ndarray]]:
        """One 128-d encoding per box, as face_recognition.face_encodings computes it (5-point
        landmarks, one pass), but in a single call to dlib's encoder for all the images."""
        if not images:
            return []
        api = self._fr.api
        batch_shapes = []
        for image, image_boxes in zip(images, boxes, strict=True):
            shapes = self._dlib.full_object_detections()
            for box in image_boxes:
                rect = self._dlib.rectangle(box.left, box.top, box.right, box.bottom)
                shapes.append(api.pose_predictor_5_point(image, rect))
            batch_shapes.append(shapes)
        # num_jitters=1, as face_recognition passes: no jitter.
        return [
            [np.asarray(v) for v in vectors]
            for vectors in api.face_encoder.compute_face_descriptor(images, batch_shapes, 1)
        ]

    def _locate_many(self, images: list[np.ndarray]) -> list[list[Box]]:
        scaled = [self._detection_copy(image) for image in images]
        found: list[list[tuple[int, int, int, int]]] = [[] for _ in images]
        pending = list(range(len(images)))
        if self.adaptive_upsample and self.upsample:
            # Upsampling doubles each side (4x the work) only to find faces under ~80 px; most
            # photos have larger ones, so look without it first and upsample only if that finds none.
            self._detect(scaled, pending, 0, found)
            pending = [i for i in pending if not found[i]]
        self._detect(scaled, pending, self.upsample, found)
        return [
            [map_box(box, scale, *image.shape[:2]) for box in boxes]
            for image, (_, scale), boxes in zip(images, scaled, found, strict=True)
        ]

    def _detection_copy(self, image: np.ndarray) -> tuple[np.ndarray, float]:
        height, width = image.shape[:2]
        scale = detection_scale(height, width, self.max_side, self.upsample)
        if scale == 1.0:
            return image, scale
        # Detection on a smaller copy is much cheaper; encoding still uses full resolution.
        size = (max(1, round(width * scale)), max(1, round(height * scale)))
        return cv2.resize(image, size, interpolation=cv2.INTER_AREA), scale

    def _detect(
        self,
        scaled: list[tuple[np.ndarray, float]],
        which: list[int],
        upsample: int,
        found: list[list[tuple[int, int, int, int]]],
    ) -> None:
        """Fill found[i] for each i in `which`: HOG image by image, CNN in batches of one size."""
        if self.model is DetectionModel.HOG:
            for i in which:
                found[i] = self._fr.face_locations(scaled[i][0], number_of_times_to_upsample=upsample)
            return
        by_shape: dict[tuple[int, ...], list[int]] = {}
        for i in which:
            by_shape.setdefault(scaled[i][0].shape, []).append(i)
        for group in by_shape.values():
            batch = [scaled[i][0] for i in group]
            located = self._fr.batch_face_locations(batch, upsample, batch_size=len(batch))
            for i, boxes in zip(group, located, strict=True):
                found[i] = boxes


def cuda_available(dlib: ModuleType) -> bool:
    """dlib was built with CUDA and sees a device."""
    if not getattr(dlib, "DLIB_USE_CUDA", False):
        return False
    try:
        return bool(dlib.cuda.get_num_devices() > 0)
    except Exception as exc:  # noqa: BLE001 - a CUDA build without a usable driver: run on the CPU
        log.warning("dlib was built with CUDA but cannot use a GPU; running on the CPU: %s", exc)
        return False
