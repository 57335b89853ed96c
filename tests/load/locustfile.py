"""Locust user for the load test: posts distinct image paths at a steady rate, loopback only.

Run by tests/load/test_load.py; LOAD_PATH_PREFIX and LOAD_PATH_COUNT name the prepared files.
"""

from __future__ import annotations

import itertools
import os

from locust import HttpUser, constant_throughput, task

_PREFIX = os.environ["LOAD_PATH_PREFIX"]
_COUNT = int(os.environ["LOAD_PATH_COUNT"])
_NEXT = itertools.count()  # shared by the users of this one process


class Poster(HttpUser):
    # Each user posts once a second; the number of users sets the rate.
    wait_time = constant_throughput(1)

    def on_start(self) -> None:
        self.client.headers["authorization"] = f"Bearer {os.environ['API_TOKEN']}"

    @task
    def post_image(self) -> None:
        index = next(_NEXT)
        if index >= _COUNT:
            self.environment.runner.quit()
            return
        with self.client.post(
            "/image/post", json={"path": f"{_PREFIX}{index:05}.jpg"}, name="/image/post", catch_response=True
        ) as response:
            if response.status_code != 202:
                response.failure(f"{response.status_code}: {response.text[:200]}")
