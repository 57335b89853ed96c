"""Grouping concurrent Identify requests into one batch for the detector (for the GPU, mostly).

Every request's image goes on a queue; one thread hands dlib what has queued up, so requests
that arrive while it is busy share the next batch. With a wait (the default on a GPU, where a
batch costs about what one image costs), it also holds the first image of a batch for up to
`wait_seconds` while more arrive. On a CPU it waits for nothing: a lone request goes at once.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field

import numpy as np
from prometheus_client import Histogram

from kubeface.recognition_errors import RequestCancelled
from recognizer.faces import FaceDetector, ImageFaces

log = logging.getLogger(__name__)

BATCH_IMAGES = Histogram(
    "recognizer_batch_images", "Images detected and encoded together", buckets=(1, 2, 3, 4, 6, 8, 12, 16, 32)
)


class RequestGone(RequestCancelled):
    """The caller stopped waiting (deadline passed, client gone) before its image was taken."""


@dataclass(frozen=True)
class _Job:
    image: np.ndarray
    still_wanted: Callable[[], bool]
    future: Future = field(default_factory=Future)


class FaceBatcher:
    """`find_faces` from many threads; the detector sees their images in batches of at most `max_batch`."""

    def __init__(self, detector: FaceDetector, *, max_batch: int, wait_seconds: float) -> None:
        self._detector = detector
        self._max_batch = max_batch
        self._wait_seconds = wait_seconds
        self._queue: queue.SimpleQueue[_Job | None] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._run, name="face-batcher", daemon=True)
        self._thread.start()

    def find_faces(self, image: np.ndarray, still_wanted: Callable[[], bool] = lambda: True) -> ImageFaces:
        """The image's faces and timings, once its batch is done; raises what the detector raised."""
        job = _Job(image, still_wanted)
        self._queue.put(job)
        return job.future.result()

    def close(self) -> None:
        """Finish what is queued, then stop the thread."""
        self._queue.put(None)
        self._thread.join(30)

    def _run(self) -> None:
        stopping = False
        while not stopping:
            first = self._queue.get()
            if first is None:
                return
            batch, stopping = self._fill([first])
            batch = [job for job in batch if self._wanted(job)]
            if batch:
                self._process(batch)

    def _fill(self, batch: list[_Job]) -> tuple[list[_Job], bool]:
        """Add what has queued up (waiting up to wait_seconds for it); True when told to stop."""
        deadline = time.monotonic() + self._wait_seconds
        while len(batch) < self._max_batch:
            remaining = deadline - time.monotonic()
            try:
                job = self._queue.get(timeout=remaining) if remaining > 0 else self._queue.get_nowait()
            except queue.Empty:
                break
            if job is None:
                return batch, True
            batch.append(job)
        return batch, False

    @staticmethod
    def _wanted(job: _Job) -> bool:
        if job.still_wanted():
            return True
        job.future.set_exception(RequestGone("the request ended before its image was taken"))
        return False

    def _process(self, batch: list[_Job]) -> None:
        BATCH_IMAGES.observe(len(batch))
        try:
            results = self._detector.find_faces_batch([job.image for job in batch])
        except Exception as exc:  # noqa: BLE001 - one bad image must not fail the others: retry alone
            if len(batch) == 1:
                batch[0].future.set_exception(exc)
                return
            log.warning(
                "a batch of %d images failed; finding faces image by image", len(batch), exc_info=True
            )
            for job in batch:
                self._settle_alone(job)
            return
        for job, faces in zip(batch, results, strict=True):
            job.future.set_result(faces)

    def _settle_alone(self, job: _Job) -> None:
        try:
            job.future.set_result(self._detector.find_faces(job.image))
        except Exception as exc:  # noqa: BLE001 - the caller gets it, with its traceback
            job.future.set_exception(exc)
