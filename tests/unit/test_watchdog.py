"""The recognizer's liveness: fails while a recognition has run past the bound, and only then."""

from __future__ import annotations

import threading

import httpx

from recognizer.watchdog import Watchdog, serve_http
from tests.servers import free_port


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_idle_is_alive():
    assert not Watchdog(60, FakeClock()).wedged()


def test_a_recognition_running_past_the_bound_is_wedged_until_it_ends():
    clock = FakeClock()
    watchdog = Watchdog(60, clock)
    with watchdog.track():
        clock.now += 59
        assert not watchdog.wedged()
        clock.now += 2
        assert watchdog.wedged()
        assert watchdog.oldest_seconds() == 61
    assert not watchdog.wedged()


def test_the_oldest_recognition_counts_not_the_newest():
    clock = FakeClock()
    watchdog = Watchdog(60, clock)
    stuck = watchdog.track()
    stuck.__enter__()
    clock.now += 50
    for _ in range(3):  # others come and go quickly while one stays stuck
        with watchdog.track():
            clock.now += 5
    assert watchdog.wedged()
    stuck.__exit__(None, None, None)
    assert not watchdog.wedged()


def test_a_failed_recognition_is_no_longer_tracked():
    watchdog = Watchdog(60, FakeClock())
    try:
        with watchdog.track():
            raise ValueError("bad image")
    except ValueError:
        pass
    assert watchdog.oldest_seconds() == 0


def test_livez_answers_503_while_wedged_and_metrics_stay_served():
    clock = FakeClock()
    watchdog = Watchdog(60, clock)
    port = free_port()
    server = serve_http("127.0.0.1", port, watchdog)
    try:
        base = f"http://127.0.0.1:{port}"
        assert httpx.get(base + "/livez").status_code == 200
        release = threading.Event()
        tracking = threading.Event()

        def wedged_recognition():
            with watchdog.track():
                tracking.set()
                release.wait(30)

        thread = threading.Thread(target=wedged_recognition)
        thread.start()
        tracking.wait(30)
        clock.now += 61
        livez = httpx.get(base + "/livez")
        assert livez.status_code == 503 and livez.json()["status"] == "wedged"
        metrics = httpx.get(base + "/metrics")
        assert metrics.status_code == 200
        assert "recognizer_oldest_recognition_seconds 61.0" in metrics.text
        release.set()
        thread.join(30)
        assert httpx.get(base + "/livez").status_code == 200
        assert httpx.get(base + "/nope").status_code == 404
    finally:
        server.shutdown()
        server.server_close()
