"""Entry point: `kubeface recognizer` or `python -m recognizer`."""

from __future__ import annotations

import logging
import multiprocessing
import signal
import sys
import threading
from concurrent import futures

import faiss
import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from prometheus_client import Gauge

from kubeface.db import Database
from kubeface.image_files import ImageFiles
from kubeface.logs import configure_logging
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
KNOWN_FACES = Gauge("recognizer_known_faces", "Known faces in the gallery")


def run(settings: Settings, *, reuse_port: bool = False) -> None:
    # One recognition at a time per process (dlib is serial): OpenMP threads in the matching
    # scan would only contend with the other processes for the cores.
    faiss.omp_set_num_threads(1)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())

    health_servicer = health.HealthServicer()
    for name in ("", SERVICE_NAME):
        health_servicer.set(name, health_pb2.HealthCheckResponse.NOT_SERVING)
    files = ImageFiles(settings.resolved_image_root, settings.image_max_bytes, settings.image_max_pixels)
    watchdog = Watchdog(settings.recognizer_wedged_seconds)
    recognizer = RecognizerServicer(files, settings.match_tolerance, watchdog)
    server = grpc.server(
        futures.ThreadPoolExecutor(max_workers=settings.recognizer_workers),
        # A second recognizer on a busy port must fail loudly, not silently share it, unless it
        # is one of the RECOGNIZER_PROCESSES started together to share it.
        options=[("grpc.so_reuseport", 1 if reuse_port else 0)],
    )
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    recognizer_pb2_grpc.add_RecognizerServicer_to_server(recognizer, server)
    server.add_insecure_port(f"{settings.bind_host}:{settings.recognizer_port}")
    server.start()  # health answers NOT_SERVING while the models and known faces load
    serve_http(settings.bind_host, settings.recognizer_metrics_port, watchdog)
    log.info("recognizer listening", extra={"port": settings.recognizer_port})

    detector = FaceDetector(
        settings.detection_model,
        settings.detection_upsample,
        settings.detection_max_side,
        adaptive_upsample=settings.detection_adaptive_upsample,
    )
    db = Database(settings)
    db.wait_until_reachable(stop=stop)

    def encode_known_face(image_path):
        with watchdog.track():
            return detector.encode_largest(load_image(files, image_path))[0].encoding

    store = GalleryStore(db, encode_known_face, settings.resolved_image_root)
    retry_at_start(store.refresh, "loading known faces", stop=stop)
    KNOWN_FACES.set(len(store.gallery))
    batch_wait = batch_wait_seconds(settings, detector)
    batcher = FaceBatcher(detector, max_batch=settings.recognizer_workers, wait_seconds=batch_wait)
    recognizer.attach(detector, batcher, store)
    for name in ("", SERVICE_NAME):
        health_servicer.set(name, health_pb2.HealthCheckResponse.SERVING)
    log.info(
        "recognizer serving",
        extra={
            "known_faces": len(store.gallery),
            "model": detector.model.value,
            "gpu": detector.uses_cuda,
            "batch_wait_ms": batch_wait * 1000,
        },
    )

    while not stop.wait(settings.gallery_refresh_seconds):
        try:
            store.refresh()
            KNOWN_FACES.set(len(store.gallery))
        except Exception:
            # A database hiccup must not take down a serving recognizer; the next tick retries.
            log.exception("refreshing known faces failed")

    log.info("SIGTERM: draining", extra={"grace_seconds": SHUTDOWN_GRACE_SECONDS})
    health_servicer.enter_graceful_shutdown()
    server.stop(SHUTDOWN_GRACE_SECONDS).wait()
    batcher.close()
    db.close()
    log.info("recognizer stopped")


def batch_wait_seconds(settings: Settings, detector: FaceDetector) -> float:
    """RECOGNIZER_BATCH_WAIT_MS, or by default 5 ms on a GPU (a batch costs about one image
    there) and none on a CPU (where waiting only adds latency)."""
    if settings.recognizer_batch_wait_ms is not None:
        return settings.recognizer_batch_wait_ms / 1000
    return GPU_BATCH_WAIT_SECONDS if detector.uses_cuda else 0.0


def _child(settings: Settings) -> None:
    configure_logging("recognizer", settings.log_level)
    run(settings, reuse_port=True)


def run_processes(settings: Settings) -> int:
    """RECOGNIZER_PROCESSES servers on one port, each with its own core and metrics port.

    dlib runs one recognition at a time per process, so processes are how a pod uses more cores.
    If one dies, the others are stopped too and the exit status says so: the pod restarts whole.
    """
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    spawn = multiprocessing.get_context("spawn")  # grpc does not survive fork()
    children = []
    for index in range(settings.recognizer_processes):
        own = settings.model_copy(
            update={"recognizer_metrics_port": settings.recognizer_metrics_port + index}
        )
        child = spawn.Process(target=_child, args=(own,), name=f"recognizer-{index}")
        child.start()
        children.append(child)
    log.info("recognizer processes started", extra={"pids": [c.pid for c in children]})
    while not stop.wait(0.5) and all(child.is_alive() for child in children):
        pass
    for child in children:
        if child.is_alive():
            child.terminate()  # SIGTERM: each drains on its own
    for child in children:
        child.join(SHUTDOWN_GRACE_SECONDS + 10)
    failed = [c.name for c in children if c.exitcode not in (0, -signal.SIGTERM)]
    if failed or not stop.is_set():
        log.error("a recognizer process exited; stopping all", extra={"failed": failed})
        return 1
    return 0


def main() -> None:
    settings = load_settings()
    configure_logging("recognizer", settings.log_level)
    if settings.recognizer_processes > 1:
        sys.exit(run_processes(settings))
    run(settings)


if __name__ == "__main__":
    main()
