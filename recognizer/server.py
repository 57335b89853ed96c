"""The gRPC servicer: Identify and Encode. Errors become status codes in kubeface/recognition_errors."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager

import grpc
from prometheus_client import Counter, Histogram

from kubeface.image_files import ImageFiles
from kubeface.logs import REQUEST_ID_HEADER, request_id_var
from kubeface.paths import resolve_image_path
from kubeface.proto import recognizer_pb2 as pb
from kubeface.proto import recognizer_pb2_grpc as pb_grpc
from kubeface.recognition_errors import RecognitionError, RecognizerNotReady, status_code_for
from kubeface.recognizer_pool import SERVER_HEADER, server_identity
from recognizer.batching import FaceBatcher
from recognizer.faces import Box, FaceDetector, FoundFace, load_image
from recognizer.gallery import GalleryStore, Match
from recognizer.identity import FaceIdentity, assign_identities
from recognizer.watchdog import Watchdog

log = logging.getLogger(__name__)

SERVER_ID = server_identity()  # each process of RECOGNIZER_PROCESSES imports this afresh (spawn)

RPC_SECONDS = Histogram("recognizer_rpc_seconds", "Time per RPC", ["method", "code"])
FACES_FOUND = Counter("recognizer_faces_found_total", "Faces found by Identify")
FACES_PER_IMAGE = Histogram(
    "recognizer_faces_per_image", "Faces found in one Identify", buckets=(0, 1, 2, 3, 5, 10, 20)
)


def _pb_box(box: Box) -> pb.Box:
    return pb.Box(top=box.top, right=box.right, bottom=box.bottom, left=box.left)


def _pb_candidate(match: Match) -> pb.Candidate:
    return pb.Candidate(
        person_id=match.person_id,
        person_name=match.person_name,
        person_image_id=match.person_image_id,
        distance=match.distance,
    )


def _pb_face(face: FoundFace, who: FaceIdentity) -> pb.Face:
    entry = pb.Face(box=_pb_box(face.box))
    if who.nearest is not None:
        entry.nearest_person_id = who.nearest.person_id
        entry.nearest_person_name = who.nearest.person_name
        entry.nearest_person_image_id = who.nearest.person_image_id
        entry.distance = who.nearest.distance
        entry.matched = who.named is not None and who.named.person_id == who.nearest.person_id
    if who.named is not None:
        entry.named.CopyFrom(_pb_candidate(who.named))
    else:
        entry.encoding.extend(face.encoding.tolist())  # for clustering unknown faces
    if who.runner_up is not None:
        entry.runner_up.CopyFrom(_pb_candidate(who.runner_up))
    return entry


class RecognizerServicer(pb_grpc.RecognizerServicer):
    """Registered before the server starts; answers UNAVAILABLE until `attach` hands it the models."""

    def __init__(self, files: ImageFiles, tolerance: float, watchdog: Watchdog) -> None:
        self._files = files
        self._tolerance = tolerance
        self._watchdog = watchdog
        self._detector: FaceDetector | None = None
        self._batcher: FaceBatcher | None = None
        self._gallery_store: GalleryStore | None = None

    def attach(self, detector: FaceDetector, batcher: FaceBatcher, gallery_store: GalleryStore) -> None:
        self._gallery_store = gallery_store
        self._batcher = batcher
        self._detector = detector

    def _ready(self) -> tuple[FaceDetector, FaceBatcher, GalleryStore]:
        if self._detector is None or self._batcher is None or self._gallery_store is None:
            raise RecognizerNotReady("the recognizer is still loading its models and known faces")
        return self._detector, self._batcher, self._gallery_store

    def Identify(self, request: pb.IdentifyRequest, context: grpc.ServicerContext) -> pb.IdentifyResponse:
        with _rpc("Identify", request.image_path, context), self._watchdog.track():
            detector, batcher, store = self._ready()
            started = time.perf_counter()
            image = self._load(request.image_path)
            decode_seconds = time.perf_counter() - started
            found = batcher.find_faces(image, context.is_active)  # with concurrent requests' images
            loaded_through = store.loaded_through  # read before the gallery: never overstated
            gallery = store.gallery  # one snapshot for the whole request
            started = time.perf_counter()
            # Enough people per face that each can fall back past every other face's choice.
            candidates = gallery.nearest_persons([face.encoding for face in found], len(found) + 1)
            identities = assign_identities(candidates, self._tolerance)
            match_seconds = time.perf_counter() - started
            FACES_FOUND.inc(len(found))
            FACES_PER_IMAGE.observe(len(found))
            return pb.IdentifyResponse(
                faces=[_pb_face(face, who) for face, who in zip(found, identities, strict=True)],
                known_faces=len(gallery),
                tolerance=self._tolerance,
                detection_model=detector.model.value,
                gallery_last_id=loaded_through,
                timings=pb.Timings(
                    decode_ms=decode_seconds * 1000,
                    detect_ms=found.detect_seconds * 1000,
                    encode_ms=found.encode_seconds * 1000,
                    match_ms=match_seconds * 1000,
                ),
            )

    def Encode(self, request: pb.EncodeRequest, context: grpc.ServicerContext) -> pb.EncodeResponse:
        with _rpc("Encode", request.image_path, context), self._watchdog.track():
            detector, _, _ = self._ready()
            image = self._load(request.image_path)
            if request.HasField("box"):
                b = request.box
                face, count = detector.encode_box(image, Box(b.top, b.right, b.bottom, b.left)), 0
            else:
                face, count = detector.encode_largest(image)
            return pb.EncodeResponse(
                encoding=face.encoding.tolist(), box=_pb_box(face.box), faces_found=count
            )

    def _load(self, raw_path: str):
        return load_image(self._files, resolve_image_path(self._files.root, raw_path))


@contextmanager
def _rpc(method: str, image_path: str, context: grpc.ServicerContext) -> Iterator[None]:
    started = time.perf_counter()
    code = grpc.StatusCode.OK
    offered = dict(context.invocation_metadata()).get(REQUEST_ID_HEADER)
    token = request_id_var.set(offered[:64] if offered else None)
    # Which process answers: clients balance their calls over the processes sharing the port.
    context.send_initial_metadata(((SERVER_HEADER, SERVER_ID),))
    try:
        yield
        log.info(
            "%s done", method, extra={"path": image_path, "seconds": round(time.perf_counter() - started, 4)}
        )
    except RecognitionError as exc:
        # kubeface/recognition_errors.py says what each failure is answered with.
        code = status_code_for(type(exc))
        log.info("image refused: %s", exc, extra={"method": method, "path": image_path, "code": code.name})
        context.abort(code, str(exc))
    except Exception:
        code = grpc.StatusCode.INTERNAL
        log.exception("unexpected error", extra={"method": method, "path": image_path})
        context.abort(code, "internal error in the recognizer; see its logs")
    finally:
        RPC_SECONDS.labels(method, code.name).observe(time.perf_counter() - started)
        request_id_var.reset(token)
