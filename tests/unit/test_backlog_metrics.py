"""The frontend's backlog gauges: a scrape costs its reads, not a new HTTP client each time."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest

from kubeface.backlog_metrics import BacklogCollector
from kubeface.settings import Settings

STATS = {"topics": [{"topic_name": "images", "depth": 2, "channels": [{"depth": 3, "deferred_count": 1}]}]}


class _Stats(BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802 (http.server's name)
        body = json.dumps(STATS).encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def nsqd_stats():
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Stats)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


class _NoDatabase:
    """Stands in for MySQL: only the queue depth is under test here."""

    def transaction(self):
        raise AssertionError("not read in this test")


def test_scrapes_read_the_depth_without_building_an_http_client(nsqd_stats, monkeypatch):
    built: list[httpx.Client] = []
    real_client = httpx.Client

    def counting_client(*args, **kwargs):
        built.append(real_client(*args, **kwargs))
        return built[-1]

    monkeypatch.setattr(httpx, "Client", counting_client)
    monkeypatch.setattr(httpx._api, "Client", counting_client)  # what httpx.get builds
    collector = BacklogCollector(_NoDatabase(), Settings(nsqd_http_address=nsqd_stats))  # type: ignore[arg-type]
    depths = [collector._queue_depth() for _ in range(3)]
    assert depths == [6.0, 6.0, 6.0]
    # An httpx client per scrape built an SSL context each time: ~20 ms of every /metrics answer.
    # The depth is read with the standard library's GET, as `kubeface status` reads it.
    assert built == []
