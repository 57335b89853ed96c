"""Hostile and broken input, table by table: a clear 4xx at the receiver, or FAILED with a reason.

Never a 500, a traceback, a hang, a crashed worker, or a file read outside the image root.
"""

from __future__ import annotations

import io
import shutil

import numpy as np
import pytest
from PIL import Image

pytestmark = pytest.mark.mesh


# --- malformed requests: refused at the receiver with a JSON error ---------------------------

MALFORMED = [
    ("not json", b"{not json"),
    ("not utf-8", b'{"path": "\xff\xfe.jpg"}'),
    ("path is a number", b'{"path": 5}'),
    ("path is a list", b'{"path": ["a.jpg"]}'),
    ("path missing", b"{}"),
    ("path empty", b'{"path": ""}'),
    ("path blank", b'{"path": "   "}'),
    ("extra field", b'{"path": "a.jpg", "priority": 1}'),
    ("body is a list", b'["a.jpg"]'),
    ("body is null", b"null"),
    ("100 KB path", b'{"path": "' + b"a" * 100_000 + b'.jpg"}'),
    ("NUL byte", b'{"path": "a\\u0000.jpg"}'),
    ("oversized body", b'{"path": "a.jpg", "pad": "' + b"x" * 3_000_000 + b'"}'),
]


@pytest.mark.parametrize(("case", "body"), MALFORMED, ids=[case for case, _ in MALFORMED])
def test_malformed_posts_get_a_json_4xx(mesh, case, body):
    with mesh.api() as api:
        response = api.post("/image/post", content=body, headers={"content-type": "application/json"})
    assert 400 <= response.status_code < 500, (case, response.status_code, response.text[:200])
    assert response.json()["error"]
    assert "Traceback" not in response.text


def test_a_batch_of_100000_paths_is_refused_whole(mesh):
    paths = [f"bulk/{index}.jpg" for index in range(100_000)]
    with mesh.api() as api:
        response = api.post("/images/post", json={"paths": paths})
    assert response.status_code == 413
    assert response.json()["error"]
    assert not mesh.sql("SELECT id FROM images WHERE path LIKE 'bulk/%%' LIMIT 1")


@pytest.mark.parametrize(
    "body",
    [b'{"paths": "a.jpg"}', b'{"paths": []}', b'{"paths": [1, 2]}', b'{"name": "x", "paths": []}'],
)
def test_malformed_batches_and_enrolments_get_a_json_4xx(mesh, body):
    with mesh.api() as api:
        for route in ("/images/post", "/person"):
            response = api.post(route, content=body, headers={"content-type": "application/json"})
            assert 400 <= response.status_code < 500, (route, response.text[:200])
            assert response.json()["error"]


# --- paths that escape the root: refused, or at worst a missing file inside the root --------

ESCAPES = [
    "../outside.jpg",
    "../../../../etc/passwd",
    "/etc/passwd",
    "known/../../outside.jpg",
    "..\\..\\windows\\win.ini",
    "C:\\Windows\\win.ini",
    "escape_link.jpg",  # a symlink inside the root pointing outside
    "escape_dir/passwd",  # a directory symlink leading outside
]


@pytest.mark.parametrize("path", ESCAPES)
def test_paths_that_escape_the_root_are_refused(mesh, path, tmp_path_factory):
    outside = tmp_path_factory.getbasetemp() / "outside"
    outside.mkdir(exist_ok=True)
    (outside / "passwd").write_text("root:x:0:0")
    for link, target in (("escape_link.jpg", outside / "passwd"), ("escape_dir", outside)):
        if not (mesh.image_root / link).is_symlink():
            (mesh.image_root / link).symlink_to(target)
    with mesh.api() as api:
        response = api.post("/image/post", json={"path": path})
    assert response.status_code == 422, response.text
    assert "root" in response.json()["error"] or "backslash" in response.json()["error"]


def test_url_encoded_traversal_is_a_literal_name_inside_the_root(mesh):
    image = mesh.wait_final(mesh.post("%2e%2e%2f%2e%2e%2fetc%2fpasswd")["id"])
    assert image["status"] == "FAILED"
    assert image["detail"].startswith("NOT_FOUND")


# --- files that are not usable images: FAILED with the reason, the worker lives on ------------


def _save(image: Image.Image, fmt: str, **options) -> bytes:
    out = io.BytesIO()
    image.save(out, fmt, **options)
    return out.getvalue()


def _bomb_png() -> bytes:
    """A valid little PNG header claiming 50,000 x 50,000 pixels."""
    data = _save(Image.new("L", (1, 1)), "PNG")
    import struct
    import zlib

    ihdr = struct.pack(">IIBBBBB", 50_000, 50_000, 8, 0, 0, 0, 0)
    chunk = b"IHDR" + ihdr
    patched = struct.pack(">I", 13) + chunk + struct.pack(">I", zlib.crc32(chunk))
    return data[:8] + patched + data[8 + 25 :]


@pytest.fixture(scope="module")
def odd_files(mesh):
    root = mesh.image_root / "odd"
    root.mkdir(exist_ok=True)
    face = Image.open(mesh.image_root / "obama2.jpg")
    files = {
        "zero.jpg": b"",
        "text.jpg": b"hello, I am a text file\n",
        "truncated.jpg": (mesh.image_root / "obama2.jpg").read_bytes()[:5000],
        "bomb.png": _bomb_png(),
        "cmyk.jpg": _save(face.convert("CMYK"), "JPEG"),
        "grey.png": _save(face.convert("L"), "PNG"),
        "rgba.png": _save(face.convert("RGBA"), "PNG"),
        "sixteen.png": _save(Image.fromarray(np.asarray(face.convert("L"), dtype=np.uint16) * 257), "PNG"),
        "animated.gif": _save(
            face, "GIF", save_all=True, append_images=[face.rotate(10)], duration=100, loop=0
        ),
        "huge.jpg": _save(face.resize((face.width * 5, face.height * 5)), "JPEG", quality=80),
        "émoji 😀 名前.jpg": _save(face, "JPEG"),
        "x'; DROP TABLE images; --.jpg": _save(face, "JPEG"),
    }
    for name, data in files.items():
        (root / name).write_bytes(data)
    (root / "a_directory.jpg").mkdir(exist_ok=True)
    return root


FAILING_FILES = [
    ("odd/missing.jpg", "NOT_FOUND"),
    ("odd/a_directory.jpg", "INVALID_ARGUMENT"),
    ("odd/zero.jpg", "INVALID_ARGUMENT"),
    ("odd/text.jpg", "INVALID_ARGUMENT"),
    ("odd/truncated.jpg", "INVALID_ARGUMENT"),
    ("odd/bomb.png", "INVALID_ARGUMENT"),
]


@pytest.mark.parametrize(("path", "code"), FAILING_FILES)
def test_unusable_files_end_failed_with_the_reason(mesh, odd_files, path, code):
    image = mesh.wait_final(mesh.post(path)["id"])
    assert image["status"] == "FAILED"
    assert image["detail"].startswith(code), image["detail"]
    assert str(mesh.image_root) not in image["detail"], "the detail must not reveal server paths"


USABLE_FILES = [
    "odd/cmyk.jpg",
    "odd/grey.png",
    "odd/rgba.png",
    "odd/sixteen.png",
    "odd/animated.gif",
    "odd/huge.jpg",
    "odd/émoji 😀 名前.jpg",
    "odd/x'; DROP TABLE images; --.jpg",
]


@pytest.mark.parametrize("path", USABLE_FILES)
def test_unusual_but_valid_images_are_recognised(mesh, odd_files, path):
    image = mesh.wait_final(mesh.post(path)["id"], timeout=180)
    assert (image["status"], image["person"]) == ("PROCESSED", "obama"), image["detail"]
    assert image["path"] == path


def test_workers_survive_the_bad_files(mesh, odd_files):
    shutil.copy(mesh.image_root / "obama2.jpg", mesh.image_root / "odd" / "after.jpg")
    assert mesh.wait_final(mesh.post("odd/after.jpg")["id"])["status"] == "PROCESSED"
    # The session's own services; instances other tests started and stopped are not theirs to judge.
    assert all(mesh.services[name].running for name in ("recognizer", "receiver", "processor", "frontend"))
    assert mesh.sql("SELECT COUNT(*) AS n FROM images")[0]["n"] > 0  # the table is still there


def test_hostile_person_names_are_stored_verbatim_and_shown_escaped(mesh):
    import httpx

    name = "<img src=x onerror=alert(1)> Robert'); DROP TABLE person;--"
    shutil.copy(mesh.image_root / "known" / "obama.jpg", mesh.image_root / "known" / "hostile.jpg")
    with mesh.api() as api:
        response = api.post("/person", json={"name": name, "paths": ["known/hostile.jpg"]})
    assert response.status_code == 201, response.text
    person_id = response.json()["id"]
    assert mesh.sql("SELECT name FROM person WHERE id = %s", (person_id,))[0]["name"] == name
    html = httpx.get(f"{mesh.frontend_url}/person/{person_id}").text
    assert "<img src=x onerror=alert(1)>" not in html
    assert "&lt;img src=x onerror=alert(1)&gt;" in html
    mesh.sql("DELETE FROM person WHERE id = %s", (person_id,))
