"""Kubernetes rolls one pod at a time: restart every processor and recognizer under load."""

from __future__ import annotations

import shutil
import threading
import time

import pytest

from tests.servers import free_port

pytestmark = pytest.mark.mesh

POSTS = 36
POST_INTERVAL_SECONDS = 0.4


def test_restarting_each_processor_and_recognizer_loses_and_fails_nothing(mesh):
    names = [f"rolling/{index:03}.jpg" for index in range(POSTS)]
    (mesh.image_root / "rolling").mkdir()
    for name in names:
        shutil.copy(mesh.image_root / "obama2.jpg", mesh.image_root / name)

    # Three recognizers behind one round-robin target, two processors using it.
    recognizer_ports = [int(mesh.env["RECOGNIZER_PORT"]), free_port(), free_port()]
    target = "ipv4:" + ",".join(f"127.0.0.1:{port}" for port in recognizer_ports)
    recognizers = {"recognizer": {}}
    for index, port in enumerate(recognizer_ports[1:], start=2):
        overrides = {"RECOGNIZER_PORT": str(port), "RECOGNIZER_METRICS_PORT": str(free_port())}
        recognizers[f"recognizer-{index}"] = overrides
        mesh.start("recognizer", instance=f"recognizer-{index}", env=overrides)
    processors = {
        "processor": {"RECOGNIZER_ADDRESS": target},
        "processor-2": {"RECOGNIZER_ADDRESS": target, "PROCESSOR_METRICS_PORT": str(free_port())},
    }
    mesh.stop("processor")
    for instance, overrides in processors.items():
        mesh.start("processor", instance=instance, env=overrides)

    posted: list[int] = []
    errors: list[str] = []

    def keep_posting() -> None:
        with mesh.api() as api:
            for name in names:
                response = api.post("/image/post", json={"path": name})
                if response.status_code == 202:
                    posted.append(response.json()["id"])
                else:
                    errors.append(f"{name}: {response.status_code} {response.text}")
                time.sleep(POST_INTERVAL_SECONDS)

    poster = threading.Thread(target=keep_posting)
    poster.start()
    try:
        for instance, overrides in [*processors.items()]:
            assert mesh.stop(instance) == 0, f"{instance} did not exit cleanly on SIGTERM"
            mesh.start("processor", instance=instance, env=overrides)
        for instance, overrides in recognizers.items():
            assert mesh.stop(instance) == 0, f"{instance} did not exit cleanly on SIGTERM"
            mesh.start("recognizer", instance=instance, env=overrides)
    finally:
        poster.join(timeout=POSTS * POST_INTERVAL_SECONDS + 60)

    try:
        assert not errors
        assert len(posted) == POSTS
        outcomes = [mesh.wait_final(image_id, timeout=180) for image_id in posted]
        assert {(image["status"], image["person"]) for image in outcomes} == {("PROCESSED", "obama")}
        assert all(len(image["faces"]) == 1 for image in outcomes), "an image was recorded twice"
        rows = mesh.sql("SELECT COUNT(*) AS n FROM images WHERE path LIKE 'rolling/%%'")
        assert rows[0]["n"] == POSTS
    finally:
        # Give the rest of the session its usual single processor and recognizer back.
        for instance in ("processor-2", "recognizer-2", "recognizer-3"):
            mesh.stop(instance)
            del mesh.services[instance]
        mesh.stop("processor")
        mesh.start("processor")
