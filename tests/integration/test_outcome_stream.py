"""Results out without polling: GET /image/{id}?wait=, GET /events, both fed by the outcome stream.

The processor is held with SIGSTOP while a client waits, so the answer can only come from the
outcome it publishes once it runs again; the client's own timeout, shorter than `wait`, shows
that the answer came at the outcome and not at the end of the wait.
"""

from __future__ import annotations

import json
import shutil
import signal
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import httpx

from tests.conftest import FINAL
from tests.servers import free_port, wait_until

CLIENT_TIMEOUT = 45  # shorter than wait=60: an answer before it came from the outcome


def _photo(mesh, source: str = "obama2.jpg") -> str:
    name = f"stream-{uuid.uuid4().hex}.jpg"
    shutil.copy(mesh.image_root / source, mesh.image_root / name)
    return name


@contextmanager
def _processor_held(mesh) -> Iterator[None]:
    """The processor stopped (SIGSTOP): messages wait in its socket until it continues."""
    process = mesh.services["processor"].popen
    process.send_signal(signal.SIGSTOP)
    try:
        yield
    finally:
        process.send_signal(signal.SIGCONT)


def _subscribers(receiver_url: str) -> float:
    for line in httpx.get(f"{receiver_url}/metrics").text.splitlines():
        if line.startswith("outcome_subscribers "):
            return float(line.split()[1])
    return 0.0


def _in_thread(target, *args) -> tuple[threading.Thread, dict]:
    result: dict = {}

    def run() -> None:
        try:
            result["value"] = target(*args)
        except Exception as exc:  # noqa: BLE001 - handed to the test, which asserts on it
            result["error"] = exc

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread, result


def _wait_for(receiver_url: str, image_id: int, seconds: int = 60) -> httpx.Response:
    return httpx.get(f"{receiver_url}/image/{image_id}", params={"wait": seconds}, timeout=CLIENT_TIMEOUT)


def test_wait_answers_when_the_image_becomes_final(mesh):
    path = _photo(mesh)
    with _processor_held(mesh):
        image_id = mesh.post(path)["id"]
        before = _subscribers(mesh.receiver_url)
        thread, result = _in_thread(_wait_for, mesh.receiver_url, image_id)
        wait_until(lambda: _subscribers(mesh.receiver_url) > before, 30, "the waiter subscribed")
        assert mesh.sql("SELECT status FROM images WHERE id = %s", (image_id,))[0]["status"] == "QUEUED"
    thread.join(CLIENT_TIMEOUT + 5)
    assert "error" not in result, result
    answer = result["value"]
    assert answer.status_code == 200, answer.text
    assert (answer.json()["status"], answer.json()["person"]) == ("PROCESSED", "obama")


def test_wait_on_a_final_image_answers_at_once(mesh):
    image_id = mesh.post(_photo(mesh))["id"]
    mesh.wait_final(image_id)
    answer = httpx.get(f"{mesh.receiver_url}/image/{image_id}", params={"wait": 60}, timeout=10)
    assert answer.status_code == 200
    assert answer.json()["status"] in FINAL


def test_wait_outside_its_limit_is_refused_with_the_limit(mesh):
    image_id = mesh.post(_photo(mesh))["id"]
    for wait in (61, -1):
        answer = httpx.get(f"{mesh.receiver_url}/image/{image_id}", params={"wait": wait})
        assert answer.status_code == 422
        assert answer.json()["limit"] == 60
        assert "from 0 to 60" in answer.json()["error"]
    assert httpx.get(f"{mesh.receiver_url}/image/999999999", params={"wait": 1}).status_code == 404


def _events(url: str, wanted: int) -> list[dict]:
    """Outcome events read from an SSE stream until one for `wanted` arrives."""
    seen: list[dict] = []
    with httpx.stream("GET", url, timeout=CLIENT_TIMEOUT) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        for line in response.iter_lines():
            if line.startswith("data: "):
                seen.append(json.loads(line.removeprefix("data: ")))
                if seen[-1]["image_id"] == wanted:
                    return seen
    return seen


def test_events_stream_the_outcomes_of_the_ids_asked_for(mesh):
    with _processor_held(mesh):
        other = mesh.post(_photo(mesh, "biden.jpg"))["id"]
        wanted = mesh.post(_photo(mesh))["id"]
        before = _subscribers(mesh.receiver_url)
        url = f"{mesh.receiver_url}/events?ids={wanted},{wanted + 10**9}"
        thread, result = _in_thread(_events, url, wanted)
        wait_until(lambda: _subscribers(mesh.receiver_url) > before, 30, "the stream subscribed")
    thread.join(CLIENT_TIMEOUT + 5)
    assert "error" not in result, result
    events = result["value"]
    assert {event["image_id"] for event in events} == {wanted}, f"{other} was not asked for"
    assert (events[-1]["status"], events[-1]["person"]) == ("PROCESSED", "obama")


def test_events_ids_that_are_not_ids_are_refused(mesh):
    answer = httpx.get(f"{mesh.receiver_url}/events", params={"ids": "1,two"})
    assert answer.status_code == 422
    assert "ids=1,2,3" in answer.json()["error"]


def test_sigterm_answers_waiters_with_the_current_state_and_exits_cleanly(mesh):
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    mesh.start("receiver", instance=f"receiver-{port}", env={"RECEIVER_PORT": str(port)})
    with _processor_held(mesh):
        image_id = mesh.post(_photo(mesh))["id"]
        thread, result = _in_thread(_wait_for, url, image_id)
        wait_until(lambda: _subscribers(url) > 0, 30, "the waiter subscribed")
        # uvicorn re-raises the signal after its graceful shutdown, as the receiver always did.
        assert mesh.stop(f"receiver-{port}") in (0, -signal.SIGTERM)
        thread.join(CLIENT_TIMEOUT + 5)
    assert "error" not in result, result
    assert result["value"].status_code == 200
    assert result["value"].json()["status"] == "QUEUED"


def test_clients_over_the_limit_get_503_with_retry_after(mesh):
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    instance = f"receiver-{port}"
    # The limit is per process: one, so that every client reaches the same one.
    env = {"RECEIVER_PORT": str(port), "OUTCOME_MAX_SUBSCRIBERS": "1", "RECEIVER_PROCESSES": "1"}
    mesh.start("receiver", instance=instance, env=env)
    try:
        image_id = mesh.post(_photo(mesh))["id"]
        with httpx.stream("GET", f"{url}/events", timeout=30) as stream:
            assert stream.status_code == 200
            wait_until(lambda: _subscribers(url) > 0, 30, "the stream subscribed")
            for refused in (
                httpx.get(f"{url}/events"),
                httpx.get(f"{url}/image/{image_id}", params={"wait": 5}),
            ):
                assert refused.status_code == 503
                assert refused.headers["retry-after"] == "5"
                assert "clients are waiting or streaming" in refused.json()["error"]
        # A plain read never waits, so it is never refused.
        assert httpx.get(f"{url}/image/{image_id}").status_code == 200
    finally:
        mesh.stop(instance)
