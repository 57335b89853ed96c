"""The frontend's own guards, without the mesh: basic auth, read-only mode, cross-site posts,
framing, body size, the production start check, query values, previews in the root."""

from __future__ import annotations

import asyncio
import base64

import httpx
import pytest
from fastapi import FastAPI, Request
from PIL import Image
from pydantic import ValidationError

from frontend.access import MAX_FORM_BYTES, install_access
from frontend.app import create_app
from frontend.params import BadParameter, optional_id, optional_status, search_text
from frontend.thumbnails import PreviewUnavailable, Thumbnailer
from kubeface.settings import Settings


class _Client:
    """Requests straight into the ASGI app, no server and no network."""

    def __init__(self, app: FastAPI) -> None:
        self._app = app

    def _send(self, method: str, path: str, headers: dict | None = None, content=None) -> httpx.Response:
        async def send() -> httpx.Response:
            transport = httpx.ASGITransport(app=self._app)
            async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
                return await client.request(method, path, headers=headers, content=content)

        return asyncio.run(send())

    def get(self, path: str, headers: dict | None = None) -> httpx.Response:
        return self._send("GET", path, headers)

    def post(self, path: str, headers: dict | None = None, content=None) -> httpx.Response:
        return self._send("POST", path, headers, content)


OPERATOR = ("operator", "s3cret-pass")
BODIES_READ: list[int] = []  # sizes of the bodies the form route did read


def _app(user: str | None, password: str | None) -> _Client:
    app = FastAPI()
    install_access(app, user, password)
    app.get("/")(lambda: {"page": "results"})

    @app.post("/images/requeue")
    async def requeue(request: Request) -> dict:
        BODIES_READ.append(len(await request.body()))
        return {"done": True}

    app.get("/healthz")(lambda: {"status": "ok"})
    return _Client(app)


def _basic(user: str, password: str) -> dict:
    return {"authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


def test_basic_auth_guards_pages_but_not_probes():
    client = _app(*OPERATOR)
    refused = client.get("/")
    assert refused.status_code == 401 and "FRONTEND_USER" in refused.text
    assert refused.headers["www-authenticate"].startswith("Basic")
    assert client.get("/", headers=_basic("operator", "wrong")).status_code == 401
    assert client.get("/", headers=_basic("operator", "s3cret-pass")).status_code == 200
    assert client.get("/healthz").status_code == 200


def test_without_credentials_configured_pages_are_open():
    assert _app(None, None).get("/").status_code == 200


def test_without_credentials_the_frontend_is_read_only():
    """No operator to authenticate: nobody may write through the frontend's token."""
    refused = _app(None, None).post("/images/requeue", headers={"origin": "http://testserver"})
    assert refused.status_code == 403
    assert "read-only" in refused.text and "FRONTEND_PASSWORD" in refused.text


def test_form_posts_from_another_site_are_refused():
    client, auth = _app(*OPERATOR), _basic(*OPERATOR)
    for foreign in ({"origin": "http://evil.example"}, {"sec-fetch-site": "cross-site"}, {"origin": "null"}):
        assert client.post("/images/requeue", headers={**auth, **foreign}).status_code == 403, foreign
    assert client.post("/images/requeue", headers={**auth, "origin": "http://testserver"}).status_code == 200


def test_no_page_can_be_framed():
    """Framing would let another site click the operator's buttons with the operator's session."""
    client = _app(*OPERATOR)
    for response in (
        client.get("/", headers=_basic(*OPERATOR)),
        client.get("/"),
        client.post("/images/requeue", headers={"origin": "null"}),
        client.get("/healthz"),
    ):
        assert response.headers["x-frame-options"] == "DENY"
        assert "frame-ancestors 'none'" in response.headers["content-security-policy"]


def test_large_form_bodies_are_refused_before_they_are_read():
    client, auth = _app(*OPERATOR), _basic(*OPERATOR)
    BODIES_READ.clear()
    big = b"status=FAILED&pad=" + b"x" * (MAX_FORM_BYTES + 1)
    declared = client.post("/images/requeue", headers=auth, content=big)
    assert declared.status_code == 413 and str(MAX_FORM_BYTES) in declared.text
    assert declared.headers["x-frame-options"] == "DENY"

    async def chunked():  # no Content-Length: counted while it streams in
        for _ in range(100):
            yield b"x" * 4096

    streamed = client.post("/images/requeue", headers=auth, content=chunked())
    assert streamed.status_code == 413
    assert BODIES_READ == []
    assert client.post("/images/requeue", headers=auth, content=b"status=FAILED").status_code == 200


def _production(**fields) -> Settings:
    return Settings(_env_file=None, environment="production", mysql_password="a-real-db-secret", **fields)


def test_production_frontend_with_the_token_refuses_to_start_without_credentials():
    with pytest.raises(ValueError, match="FRONTEND_USER and FRONTEND_PASSWORD"):
        create_app(_production(api_token="a-real-api-token-0123"))
    create_app(_production())  # no token: read-only, nothing to protect
    create_app(
        _production(api_token="a-real-api-token-0123", frontend_user="op", frontend_password="pw-0123")
    )


def test_half_set_credentials_are_refused_at_start():
    with pytest.raises(ValueError, match="both"):
        create_app(Settings(_env_file=None, frontend_user="operator"))


def test_production_refuses_a_placeholder_frontend_password():
    with pytest.raises(ValidationError, match="FRONTEND_PASSWORD"):
        _production(frontend_user="op", frontend_password="changeme")


@pytest.mark.parametrize(
    ("name", "value"),
    # 5,000 digits: past Python's int-conversion limit, which raised ValueError (a 500).
    [
        ("before", "²"),
        ("after", "-1"),
        ("before", "1e3"),
        ("person", "abc"),
        ("after", "9" * 30),
        ("after", "1" * 5000),
    ],
)
def test_malformed_ids_name_the_parameter(name, value):
    with pytest.raises(BadParameter, match=name):
        optional_id(name, value)


def test_well_formed_query_values_are_taken():
    assert optional_id("before", "") is None
    assert optional_id("before", "42") == 42
    assert optional_status("") is None and optional_status("FAILED").value == "FAILED"
    with pytest.raises(BadParameter, match="status"):
        optional_status("failed")
    with pytest.raises(BadParameter, match="q"):
        search_text("x" * 1000)


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
