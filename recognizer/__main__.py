"""Entry point: `kubeface recognizer` or `python -m recognizer`."""

from __future__ import annotations

import functools
import logging
import signal
import sys
import threading
from collections.abc import Callable
from concurrent import futures

import faiss
import grpc
import numpy as np
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from prometheus_client import Gauge

from kubeface.db import Database, refuse_bad_tls_now
from kubeface.image_files import ImageFiles
from kubeface.logs import configure_logging
from kubeface.paths import ImagePath
from kubeface.process_group import run_process_group
from kubeface.proto import recognizer_pb2, recognizer_pb2_grpc
from kubeface.settings import Settings, load_settings
from kubeface.startup import retry_at_start
from recognizer.batching import FaceBatcher
from recognizer.faces import FaceDetector, load_image
from recognizer.gallery import GalleryStore
from recognizer.server import RecognizerServicer
from recognizer.watchdog import Watchdog, serve_http

log = logging.getLogger(__name__)

SERVICE_NAME = recognizer_pb2.DESCRIPTOR.services_by_name["Recognizer"].full_name
SHUTDOWN_GRACE_SECONDS = 20.0
GPU_BATCH_WAIT_SECONDS = 0.005
CONNECTION_MAX_AGE_SECONDS = 30
KNOWN_FACES = Gauge("recognizer_known_faces", "Known faces in the gallery")


def run(settings: Settings, *, reuse_port: bool = False, listen_early: bool = True) -> None:
    """Serve until SIGTERM or SIGINT, then drain.

    `listen_early`: accept connections while loading (health NOT_SERVING), as a lone process does.
    Processes sharing a port listen only once they serve: the kernel hands each new connection to
    any listening process, and a client's connection to one still loading would fail its calls.
    """
    # One recognition at a time per process (dlib is serial): OpenMP threads in the matching
    # scan would only contend with the other processes for the cores.
    faiss.omp_set_num_threads(1)
    stop = _stop_on_signals()
    service = RecognizerService(settings, reuse_port=reuse_port)
    service.start(listen=listen_early)  # health answers NOT_SERVING while models and faces load
    db = Database(settings)
    try:
        db.wait_until_reachable(stop=stop)
        service.load(db, stop)
        if not listen_early:
            service.listen()
        service.refresh_until(stop)
    finally:
        service.drain()
        db.close()
    log.info("recognizer stopped")


def _stop_on_signals() -> threading.Event:
    """An event that SIGTERM and SIGINT set."""
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    return stop


class RecognizerService:
    """The gRPC server and its health, from start through loading and serving to draining."""

    def __init__(self, settings: Settings, *, reuse_port: bool) -> None:
        self._settings = settings
        self._files = ImageFiles(
            settings.resolved_image_root, settings.image_max_bytes, settings.image_max_pixels
        )
        self._watchdog = Watchdog(settings.recognizer_wedged_seconds)
        self._recognizer = RecognizerServicer(self._files, settings.match_tolerance, self._watchdog)
        self._health = health.HealthServicer()
        self._set_health(health_pb2.HealthCheckResponse.NOT_SERVING)
        self._server = grpc.server(
            futures.ThreadPoolExecutor(max_workers=settings.recognizer_workers),
            # A second recognizer on a busy port must fail loudly, not silently share it, unless
            # it is one of the RECOGNIZER_PROCESSES started together to share it.
            options=[
                ("grpc.so_reuseport", 1 if reuse_port else 0),
                # Clients reconnect now and then, so the kernel spreads their connections anew
                # over the processes sharing the port (and a client reaches new pods).
                ("grpc.max_connection_age_ms", CONNECTION_MAX_AGE_SECONDS * 1000),
            ],
        )
        health_pb2_grpc.add_HealthServicer_to_server(self._health, self._server)
        recognizer_pb2_grpc.add_RecognizerServicer_to_server(self._recognizer, self._server)
        self._server.add_insecure_port(f"{settings.bind_host}:{settings.recognizer_port}")
        self._store: GalleryStore | None = None
        self._batcher: FaceBatcher | None = None

    def _set_health(self, status: int) -> None:
        for name in ("", SERVICE_NAME):
            self._health.set(name, status)

    def start(self, *, listen: bool = True) -> None:
        """Serve /livez and /metrics; with `listen`, gRPC too (health NOT_SERVING until loaded)."""
        if listen:
            self.listen()
        http = serve_http(self._settings.bind_host, self._settings.recognizer_metrics_port, self._watchdog)
        log.info(
            "recognizer listening",
            extra={"port": self._settings.recognizer_port, "metrics_port": http.server_address[1]},
        )

    def listen(self) -> None:
        self._server.start()

    def load(self, db: Database, stop: threading.Event) -> None:
        """Load the models and the known faces, attach them, and only then answer SERVING."""
        settings = self._settings
        detector = FaceDetector(
            settings.detection_model,
            settings.detection_upsample,
            settings.detection_max_side,
            adaptive_upsample=settings.detection_adaptive_upsample,
        )
        store = GalleryStore(db, self._known_face_encoder(detector), settings.resolved_image_root)
        retry_at_start(store.refresh, "loading known faces", stop=stop)
        KNOWN_FACES.set(len(store.gallery))
        batch_wait = batch_wait_seconds(settings, detector)
        self._batcher = FaceBatcher(detector, max_batch=settings.recognizer_workers, wait_seconds=batch_wait)
        self._recognizer.attach(detector, self._batcher, store)
        self._store = store
        self._set_health(health_pb2.HealthCheckResponse.SERVING)
        log.info(
            "recognizer serving",
            extra={
                "known_faces": len(store.gallery),
                "model": detector.model.value,
                "gpu": detector.uses_cuda,
                "batch_wait_ms": batch_wait * 1000,
            },
        )

    def _known_face_encoder(self, detector: FaceDetector) -> Callable[[ImagePath], np.ndarray]:
        """How the gallery encodes an enrolled photo: its largest face, watched like a request."""

        def encode_known_face(image_path: ImagePath) -> np.ndarray:
            with self._watchdog.track():
                return detector.encode_largest(load_image(self._files, image_path))[0].encoding

        return encode_known_face

    def refresh_until(self, stop: threading.Event) -> None:
        """Load newly enrolled faces every GALLERY_REFRESH_SECONDS until `stop`."""
        assert self._store is not None, "load() first"
        while not stop.wait(self._settings.gallery_refresh_seconds):
            try:
                self._store.refresh()
                KNOWN_FACES.set(len(self._store.gallery))
            except Exception:
                # A database hiccup must not take down a serving recognizer; the next tick retries.
                log.exception("refreshing known faces failed")

    def drain(self) -> None:
        """NOT_SERVING, then let in-flight calls finish within the grace period."""
        log.info("SIGTERM: draining", extra={"grace_seconds": SHUTDOWN_GRACE_SECONDS})
        self._health.enter_graceful_shutdown()
        self._server.stop(SHUTDOWN_GRACE_SECONDS).wait()
        if self._batcher is not None:
            self._batcher.close()


def batch_wait_seconds(settings: Settings, detector: FaceDetector) -> float:
    """RECOGNIZER_BATCH_WAIT_MS, or by default 5 ms on a GPU (a batch costs about one image
    there) and none on a CPU (where waiting only adds latency)."""
    if settings.recognizer_batch_wait_ms is not None:
        return settings.recognizer_batch_wait_ms / 1000
    return GPU_BATCH_WAIT_SECONDS if detector.uses_cuda else 0.0


def _child(settings: Settings, index: int) -> None:
    configure_logging("recognizer", settings.log_level)
    # The first serves /metrics and /livez on RECOGNIZER_METRICS_PORT; the others on free ports
    # (logged), since the ports after it belong to other services (the cluster worker's is 9103).
    own = settings.model_copy(update={"recognizer_metrics_port": 0} if index else {})
    # Every one, the first too: when another finished loading first, a connection the kernel
    # gave the first while it still loaded failed its calls (a newcomer's first enrolment after
    # `make run`, 503). Until one serves, connections are refused and clients retry.
    run(own, reuse_port=True, listen_early=False)


def main() -> None:
    settings = load_settings()
    configure_logging("recognizer", settings.log_level)
    # Before the models load, and once for all processes: a refused TLS is one line, not a
    # traceback from each process after its models loaded.
    refuse_bad_tls_now(settings)
    processes = settings.resolved_recognizer_processes
    if processes > 1:
        # dlib runs one recognition at a time per process: processes are how it uses more cores.
        child = functools.partial(_child, settings)
        sys.exit(run_process_group(child, processes, "recognizer", SHUTDOWN_GRACE_SECONDS))
    run(settings)


if __name__ == "__main__":
    main()
