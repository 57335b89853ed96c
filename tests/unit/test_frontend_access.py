"""The frontend's own guards, without the mesh: basic auth, cross-site posts, previews in the root."""

from __future__ import annotations

import asyncio
import base64

import httpx
import pytest
from fastapi import FastAPI
from PIL import Image

from frontend.access import install_access
from frontend.thumbnails import PreviewUnavailable, Thumbnailer


class _Client:
    """Requests straight into the ASGI app, no server and no network."""

    def __init__(self, app: FastAPI) -> None:
        self._app = app

    def _send(self, method: str, path: str, headers: dict | None = None) -> httpx.Response:
        async def send() -> httpx.Response:
            transport = httpx.ASGITransport(app=self._app)
            async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
                return await client.request(method, path, headers=headers)

        return asyncio.run(send())

    def get(self, path: str, headers: dict | None = None) -> httpx.Response:
        return self._send("GET", path, headers)

    def post(self, path: str, headers: dict | None = None) -> httpx.Response:
        return self._send("POST", path, headers)


def _app(user: str | None, password: str | None) -> _Client:
    app = FastAPI()
    install_access(app, user, password)
    app.get("/")(lambda: {"page": "results"})
    app.post("/images/requeue")(lambda: {"done": True})
    app.get("/healthz")(lambda: {"status": "ok"})
    return _Client(app)


def _basic(user: str, password: str) -> dict:
    return {"authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


def test_basic_auth_guards_pages_but_not_probes():
    client = _app("operator", "s3cret-pass")
    refused = client.get("/")
    assert refused.status_code == 401 and "FRONTEND_USER" in refused.text
    assert refused.headers["www-authenticate"].startswith("Basic")
    assert client.get("/", headers=_basic("operator", "wrong")).status_code == 401
    assert client.get("/", headers=_basic("operator", "s3cret-pass")).status_code == 200
    assert client.get("/healthz").status_code == 200


def test_without_credentials_configured_pages_are_open():
    assert _app(None, None).get("/").status_code == 200


def test_form_posts_from_another_site_are_refused():
    client = _app(None, None)
    assert client.post("/images/requeue", headers={"origin": "http://evil.example"}).status_code == 403
    assert client.post("/images/requeue", headers={"sec-fetch-site": "cross-site"}).status_code == 403
    assert client.post("/images/requeue", headers={"origin": "http://testserver"}).status_code == 200


def test_previews_are_made_only_from_files_inside_the_root(tmp_path):
    root, cache = tmp_path / "root", tmp_path / "cache"
    root.mkdir()
    Image.new("RGB", (800, 400), "red").save(root / "wide.jpg")
    Image.new("RGB", (10, 10), "blue").save(tmp_path / "outside.jpg")
    thumbs = Thumbnailer(root, cache)
    made = thumbs.preview("wide.jpg", 96)
    with Image.open(made) as img:
        assert img.size == (96, 48)
    assert thumbs.preview("wide.jpg", 96) == made  # cached
    for bad in ("../outside.jpg", str(tmp_path / "outside.jpg"), "missing.jpg"):
        with pytest.raises(PreviewUnavailable):
            thumbs.preview(bad, 96)
