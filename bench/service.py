"""Item 2 over gRPC: the recognizer service's images/s and latency, R processes on R cores."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import grpc

from bench.mesh import restart
from bench.stats import median, percentile
from kubeface.proto import recognizer_pb2 as pb
from kubeface.proto import recognizer_pb2_grpc as pb_grpc


def identify_load(address: str, paths: list[str], concurrency: int) -> tuple[float, list[float]]:
    """Identify every path once with `concurrency` callers; (images/s, latencies in s)."""
    latencies: list[float] = []
    lock = threading.Lock()
    local = threading.local()
    # One connection per caller: processes sharing a port (SO_REUSEPORT) are balanced by
    # connection, so callers on one connection would all reach the same process.
    options = [("grpc.use_local_subchannel_pool", 1)]
    channels: list[grpc.Channel] = []

    def one(path: str) -> None:
        if not hasattr(local, "stub"):
            channel = grpc.insecure_channel(address, options=options)
            with lock:
                channels.append(channel)
            local.stub = pb_grpc.RecognizerStub(channel)
        started = time.perf_counter()
        local.stub.Identify(pb.IdentifyRequest(image_path=path), timeout=120)
        with lock:
            latencies.append(time.perf_counter() - started)

    begun = time.perf_counter()
    try:
        with ThreadPoolExecutor(concurrency) as pool:
            list(pool.map(one, paths))
        return len(paths) / (time.perf_counter() - begun), latencies
    finally:
        for channel in channels:
            channel.close()


def start_recognizers(mesh, processes: int) -> None:
    restart(mesh, "recognizer", RECOGNIZER_PROCESSES=str(processes))
    # Health answers once one process serves; the others may still be loading their models.
    time.sleep(3 + processes)


def run(report, mesh, photos: list[str], rounds: int, process_counts: list[int]) -> dict:
    """Median images/s over `rounds` passes of all photos, for each recognizer process count."""
    mesh.stop("processor")  # nothing else on the cores
    results = {}
    for processes in process_counts:
        start_recognizers(mesh, processes)
        identify_load(mesh.recognizer_address, photos[: 2 * processes], 2 * processes)  # warm-up
        rates, latencies, solo = [], [], []
        for _ in range(rounds):
            rate, lat = identify_load(mesh.recognizer_address, photos, 2 * processes)
            rates.append(rate)
            latencies += lat
        for _ in range(rounds):
            solo += identify_load(mesh.recognizer_address, photos, 1)[1]
        results[processes] = {
            "rate": median(rates),
            "p50": percentile(latencies, 50),
            "p95": percentile(latencies, 95),
            "solo_p50": percentile(solo, 50),
        }
    report.section(
        "2. Recognizer service over gRPC",
        f"`Identify` over loopback on the {len(photos)} photos, {rounds} passes; 2 callers per "
        "recognizer process (`RECOGNIZER_PROCESSES`), so each process always has the next request "
        "waiting. Latency under that load, and alone (one caller).",
    )
    report.table(
        ["processes", "images/s", "p50 ms (loaded)", "p95 ms (loaded)", "p50 ms (one caller)"],
        [[p, r["rate"], r["p50"] * 1000, r["p95"] * 1000, r["solo_p50"] * 1000] for p, r in results.items()],
    )
    return results
