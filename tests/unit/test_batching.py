"""Batched detection and encoding with the real dlib models: same faces as one image at a time."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

from kubeface.settings import DetectionModel
from recognizer.batching import FaceBatcher, RequestGone
from recognizer.faces import FaceDetector, FoundFace, load_image_file
from tests.photos import sdist_photos

PHOTOS = ["obama.jpg", "biden.jpg", "obama2.jpg", "obama_partial_face.jpg"]


class RecordingDetector(FaceDetector):
    """The real detector, noting the size of each batch it is handed."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.batch_sizes: list[int] = []

    def find_faces_batch(self, images):
        self.batch_sizes.append(len(images))
        return super().find_faces_batch(images)


@pytest.fixture(scope="module")
def images() -> list[np.ndarray]:
    root = sdist_photos()
    return [load_image_file(root / name) for name in PHOTOS]


def _same_faces(a: list[FoundFace], b: list[FoundFace]) -> bool:
    return [f.box for f in a] == [f.box for f in b] and all(
        np.array_equal(x.encoding, y.encoding) for x, y in zip(a, b, strict=True)
    )


def test_a_batch_finds_exactly_the_faces_found_one_image_at_a_time(images):
    detector = FaceDetector(DetectionModel.HOG, 1, 1024)
    alone = [detector.find_faces(image) for image in images]
    together = detector.find_faces_batch(images)
    assert [len(faces) for faces in alone] == [1, 1, 1, 1]
    assert all(_same_faces(a, b) for a, b in zip(alone, together, strict=True))


def test_the_cnn_detector_batches_images_of_mixed_sizes(images):
    # Small copies keep the CNN quick on a CPU; two share a size, one does not.
    small = [images[0][::4, ::4].copy(), images[2][::4, ::4].copy(), images[0][::4, ::4].copy()]
    small[1] = small[1][: small[0].shape[0] - 8]
    detector = FaceDetector(DetectionModel.CNN, 1, 400)
    alone = [detector.find_faces(image) for image in small]
    together = detector.find_faces_batch(small)
    assert all(alone) and all(_same_faces(a, b) for a, b in zip(alone, together, strict=True))


def test_concurrent_requests_share_one_batch_and_each_gets_its_own_faces(images):
    detector = RecordingDetector(DetectionModel.HOG, 1, 1024)
    expected = [detector.find_faces(image) for image in images]
    detector.batch_sizes.clear()
    # The first image is held up to 10 s for the others: they all arrive long before that.
    batcher = FaceBatcher(detector, max_batch=len(images), wait_seconds=10)
    start = threading.Barrier(len(images))

    def identify(image: np.ndarray) -> list[FoundFace]:
        start.wait()
        return batcher.find_faces(image)

    try:
        with ThreadPoolExecutor(len(images)) as pool:
            answers = list(pool.map(identify, images))
    finally:
        batcher.close()
    assert detector.batch_sizes == [len(images)]
    assert all(_same_faces(a, b) for a, b in zip(expected, answers, strict=True))


def test_an_image_dlib_rejects_fails_only_its_own_request(images):
    detector = RecordingDetector(DetectionModel.HOG, 1, 1024)
    batcher = FaceBatcher(detector, max_batch=3, wait_seconds=10)
    unreadable = np.zeros((64, 64, 3), dtype=np.float32)  # dlib takes 8-bit images only
    start = threading.Barrier(3)

    def identify(image: np.ndarray):
        start.wait()
        try:
            return batcher.find_faces(image)
        except Exception as exc:  # noqa: BLE001 - the test looks at what each caller got
            return exc

    try:
        with ThreadPoolExecutor(3) as pool:
            good, bad, other = pool.map(identify, [images[0], unreadable, images[1]])
    finally:
        batcher.close()
    assert detector.batch_sizes[0] == 3  # they were batched, and the batch failed as a whole
    assert isinstance(bad, RuntimeError) and "image type" in str(bad)
    assert len(good) == 1 and len(other) == 1


def test_an_image_whose_caller_has_gone_is_not_processed(images):
    detector = RecordingDetector(DetectionModel.HOG, 1, 1024)
    batcher = FaceBatcher(detector, max_batch=2, wait_seconds=0)
    try:
        with pytest.raises(RequestGone):
            batcher.find_faces(images[0], still_wanted=lambda: False)
        assert len(batcher.find_faces(images[1])) == 1
    finally:
        batcher.close()
    assert detector.batch_sizes == [1]
