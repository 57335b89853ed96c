"""The results page updates itself from the outcome stream (SSE), with no reload and no polling."""

from __future__ import annotations

import shutil
import uuid

import httpx
import pytest

from tests.servers import wait_until

pytestmark = [pytest.mark.mesh, pytest.mark.timeout(180)]


def _subscribers(frontend_url: str) -> float:
    for line in httpx.get(f"{frontend_url}/metrics").text.splitlines():
        if line.startswith("outcome_subscribers "):
            return float(line.split()[1])
    return 0.0


def test_a_new_outcome_appears_in_the_open_results_page(mesh, ui, page):
    from playwright.sync_api import expect

    requests = []
    page.on("request", lambda request: requests.append(request))
    before = _subscribers(ui)
    page.goto(ui + "/")
    page.evaluate("window.sameDocument = true")  # a reload would drop it
    wait_until(lambda: _subscribers(ui) > before, 30, "the page's event stream")
    assert not [r for r in requests if r.headers.get("x-live")], "nothing changed, nothing fetched"

    name = f"live-{uuid.uuid4().hex}.jpg"
    shutil.copy(mesh.image_root / "obama2.jpg", mesh.image_root / name)
    mesh.post(name)
    row = page.locator("table.results tbody tr", has_text=name)
    expect(row.locator(".badge")).to_have_text("PROCESSED", timeout=60_000)
    expect(row).to_contain_text("obama")

    assert page.evaluate("window.sameDocument") is True
    assert [r for r in requests if r.resource_type == "eventsource" and "/events" in r.url]
    assert [r for r in requests if r.headers.get("x-live")], "the region was fetched after the event"
