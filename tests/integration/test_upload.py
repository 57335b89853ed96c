"""POST /image/upload on the real mesh: bytes stored by content, queued like a posted path.

Each test uploads bytes no other test sends (a sample photo with a unique JPEG comment), so
tests don't depend on order or on one another's rows."""

from __future__ import annotations

import hashlib
import json
import socket
import struct
import time
import uuid
from urllib.parse import urlsplit

import pytest

from kubeface.uploads import UploadStore

pytestmark = pytest.mark.mesh


def _unique_jpeg(mesh, name: str = "obama2.jpg") -> bytes:
    """The photo with a JPEG comment segment (COM) holding a fresh id: new bytes, same picture."""
    data = (mesh.image_root / name).read_bytes()
    comment = f"kubeface test {uuid.uuid4().hex}".encode()
    return data[:2] + b"\xff\xfe" + struct.pack(">H", len(comment) + 2) + comment + data[2:]


def _stored_path(data: bytes) -> str:
    return f"uploads/{hashlib.sha256(data).hexdigest()}.jpg"


def _temp_files(mesh) -> list[str]:
    return [p.name for p in UploadStore(mesh.image_root, 1).temporary_files()]


def _rows(mesh, path: str) -> list[dict]:
    return mesh.sql("SELECT id FROM images WHERE path = %s", (path,))


def test_a_multipart_upload_is_stored_by_content_and_recognised(mesh):
    data = _unique_jpeg(mesh)
    with mesh.api() as api:
        response = api.post("/image/upload", files={"file": ("holiday.jpg", data, "image/jpeg")})
    assert response.status_code == 202, response.text
    body = response.json()
    assert body["path"] == _stored_path(data) and body["status"] == "QUEUED" and not body["duplicate"]
    assert (mesh.image_root / body["path"]).read_bytes() == data
    image = mesh.wait_final(body["id"])
    assert (image["status"], image["person"], image["path"]) == ("PROCESSED", "obama", body["path"])


def test_two_files_in_one_form_answer_like_a_batch(mesh):
    first, second = _unique_jpeg(mesh), _unique_jpeg(mesh, "biden.jpg")
    with mesh.api() as api:
        response = api.post(
            "/image/upload",
            files=[("file", ("a.jpg", first, "image/jpeg")), ("file", ("b.jpg", second, "image/jpeg"))],
        )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["accepted"] == 2 and body["refused"] == 0
    assert [r["path"] for r in body["results"]] == [_stored_path(first), _stored_path(second)]
    assert len({r["id"] for r in body["results"]}) == 2


def test_a_raw_body_is_accepted_and_the_same_bytes_return_the_same_row(mesh):
    data = _unique_jpeg(mesh)
    with mesh.api() as api:
        first = api.post("/image/upload", content=data, headers={"content-type": "image/jpeg"})
        # The client's type is not what counts: the bytes are a JPEG.
        again = api.post("/image/upload", content=data, headers={"content-type": "image/png"})
    assert first.status_code == 202, first.text
    assert again.status_code == 200, again.text
    assert again.json()["id"] == first.json()["id"] and again.json()["duplicate"] is True
    assert len(_rows(mesh, _stored_path(data))) == 1


@pytest.mark.parametrize(
    "request_kwargs",
    [
        {"content": b"plain text, not a picture", "headers": {"content-type": "text/plain"}},
        {"content": b"plain text under an image type", "headers": {"content-type": "image/jpeg"}},
        {"files": {"file": ("photo.jpg", b"text bytes named like a photo", "image/jpeg")}},
    ],
    ids=["text", "raw-text-as-jpeg", "multipart-text-as-jpeg"],
)
def test_a_non_image_is_refused_with_415_saying_what_is_accepted(mesh, request_kwargs):
    with mesh.api() as api:
        response = api.post("/image/upload", **request_kwargs)
    assert response.status_code == 415, response.text
    assert "JPG, PNG, GIF, WEBP, BMP, TIFF" in response.json()["error"]
    assert _temp_files(mesh) == []


def test_a_malformed_form_is_refused_with_400(mesh):
    headers = {"content-type": "multipart/form-data; boundary=XyZ"}
    with mesh.api() as api:
        response = api.post("/image/upload", content=b"--XyZ\r\nno headers end here", headers=headers)
        garbage = api.post("/image/upload", content=b"--Q\r\n\x00\x01", headers=headers)
    assert response.status_code == 400, response.text
    assert garbage.status_code == 400, garbage.text
    assert _temp_files(mesh) == []


def test_uploads_need_the_token_like_posts(mesh):
    with mesh.api(token=None) as api:
        response = api.post(
            "/image/upload", content=_unique_jpeg(mesh), headers={"content-type": "image/jpeg"}
        )
    assert response.status_code == 401


def _send_raw(mesh, head: bytes, body_chunks, read_answer: bool = True) -> bytes:
    """Send a request by hand; keep going until the server stops reading, then read its answer."""
    url = urlsplit(mesh.receiver_url)
    with socket.create_connection((url.hostname, url.port), timeout=60) as sock:
        sock.sendall(head)
        try:
            for chunk in body_chunks:
                sock.sendall(chunk)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the server answered and closed before the whole body: what we test
        if not read_answer:
            return b""
        answer = b""
        try:
            while part := sock.recv(65536):
                answer += part
                if b"\r\n\r\n" in answer:
                    break
        except ConnectionResetError:
            pass
        return answer


def _head(mesh, extra: str) -> bytes:
    url = urlsplit(mesh.receiver_url)
    with mesh.api() as api:
        authorization = api.headers.get("authorization", "")
    return (
        f"POST /image/upload HTTP/1.1\r\nHost: {url.hostname}\r\n"
        f"Authorization: {authorization}\r\n"
        f"Content-Type: image/jpeg\r\n{extra}\r\n"
    ).encode()


def test_an_oversize_stream_is_stopped_with_413_and_leaves_nothing(mesh):
    data = _unique_jpeg(mesh)
    megabyte = b"\x00" * (1 << 20)
    chunks = [data] + [megabyte] * 24  # over the 20 MB default, sent chunked: no length to refuse up front

    def chunked():
        for chunk in chunks:
            yield f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n"
        yield b"0\r\n\r\n"

    answer = _send_raw(mesh, _head(mesh, "Transfer-Encoding: chunked\r\n"), chunked())
    assert answer.startswith(b"HTTP/1.1 413"), answer[:200]
    assert _temp_files(mesh) == []
    assert _rows(mesh, _stored_path(data)) == []
    declared = _send_raw(mesh, _head(mesh, f"Content-Length: {30 << 20}\r\n"), [data])
    assert declared.startswith(b"HTTP/1.1 413"), declared[:200]


def test_a_body_cut_off_mid_stream_leaves_no_file_and_no_row(mesh):
    data = _unique_jpeg(mesh)
    head = _head(mesh, f"Content-Length: {len(data)}\r\n")
    _send_raw(mesh, head, [data[: len(data) // 2]], read_answer=False)  # then the socket closes
    deadline = time.monotonic() + 30  # the receiver notices the disconnect on its own time
    while _temp_files(mesh) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert _temp_files(mesh) == []
    assert not (mesh.image_root / _stored_path(data)).exists()
    assert _rows(mesh, _stored_path(data)) == []


def test_the_cli_uploads_files_from_this_machine(mesh, tmp_path):
    data = _unique_jpeg(mesh)
    (tmp_path / "mine.jpg").write_bytes(data)
    (tmp_path / "notes.jpg").write_bytes(b"a text file with a picture's name")
    result = mesh.run(
        "post", "--upload", str(tmp_path / "mine.jpg"), str(tmp_path / "notes.jpg"), "--wait", "--json"
    )
    summary = json.loads(result.stdout.strip().splitlines()[-1])
    assert summary["posted"] == 1 and summary["by_status"] == {"PROCESSED": 1}
    [refused] = summary["refused"]
    assert refused["path"].endswith("notes.jpg") and "JPG, PNG" in refused["error"]
    assert result.returncode == 1, "a refused file makes the command fail"
    assert len(_rows(mesh, _stored_path(data))) == 1
