"""Receiver processes sharing a port: posts are answered by all of them, /metrics counts them all."""

from __future__ import annotations

import re
from pathlib import Path

import httpx
import pytest

from tests.conftest import API_TOKEN
from tests.photos import unique_name
from tests.servers import free_port

pytestmark = pytest.mark.mesh

PROCESSES = 2
POSTS = 32  # each on its own connection: the kernel hands connections to processes at random


def _posts_counted(metrics: str) -> float:
    pattern = r'^http_requests_total\{code="202",method="POST",route="/image/post"\} (\S+)$'
    return sum(float(m) for m in re.findall(pattern, metrics, re.MULTILINE))


def _metric_files(parent_pid: int) -> set[str]:
    children = Path(f"/proc/{parent_pid}/task/{parent_pid}/children").read_text().split()
    environ = Path(f"/proc/{children[0]}/environ").read_bytes().split(b"\0")
    folder = next(e.split(b"=", 1)[1] for e in environ if e.startswith(b"PROMETHEUS_MULTIPROC_DIR="))
    return {p.name for p in Path(folder.decode()).glob("counter_*.db")}


def test_posts_spread_over_receiver_processes_and_metrics_count_every_one(mesh):
    """One receiver process accepts about 1,000 posts/s: `make run` starts one per core. A scrape
    reaches one process; it must still count every process's requests."""
    port = free_port()
    instance = unique_name("receiver-procs")
    proc = mesh.start(
        "receiver",
        instance=instance,
        env={"RECEIVER_PORT": str(port), "RECEIVER_PROCESSES": str(PROCESSES)},
    )
    url, folder = f"http://127.0.0.1:{port}", unique_name("procs")
    headers = {"Authorization": f"Bearer {API_TOKEN}"}
    try:
        for index in range(POSTS):
            with httpx.Client(base_url=url, headers=headers) as client:  # a new connection each
                answer = client.post("/image/post", json={"path": f"{folder}/{index}.jpg"})
            assert answer.status_code == 202, answer.text
        scrapes = []
        for _ in range(8):
            with httpx.Client(base_url=url) as client:
                scrapes.append(_posts_counted(client.get("/metrics").text))
        writers = _metric_files(proc.popen.pid)
    finally:
        mesh.stop(instance)
    assert scrapes == [POSTS] * len(scrapes)
    assert len(writers) == PROCESSES, writers  # each process counted some of them
