"""Files that are not images, posted as images: each ends FAILED at once with the reason, and
nothing wedges. A FIFO once blocked the recognizer's threads forever in open(); liveness passed.

Also the frontend's previews of them, and of a picture too large to preview in its memory.
"""

from __future__ import annotations

import os
import shutil
import uuid
from concurrent.futures import ThreadPoolExecutor

import grpc
import httpx
import pytest

from kubeface.proto import recognizer_pb2 as pb
from kubeface.proto import recognizer_pb2_grpc as pb_grpc
from tests.photos import make_socket, write_blank_png

# Each wait below is bounded; the timeout only turns an unforeseen hang into a failure.
pytestmark = [pytest.mark.mesh, pytest.mark.timeout(300)]

FAIL_WITHIN_SECONDS = 60  # a wedged recognizer never answers; a healthy one answers in well under 1 s


@pytest.fixture(scope="module")
def folder(mesh):
    """A folder of things that are not image files, unique to this module's run."""
    path = mesh.image_root / f"unreadable-{uuid.uuid4().hex[:8]}"
    path.mkdir()
    os.mkfifo(path / "fifo.jpg")
    make_socket(path / "socket.jpg")
    (path / "directory.jpg").mkdir()
    (path / "loop.jpg").symlink_to("loop.jpg")
    with open(path / "over_cap.jpg", "wb") as big:
        big.truncate(65 * 1024 * 1024)  # sparse: over IMAGE_MAX_BYTES (64 MiB) without using disk
    write_blank_png(path / "huge.png", 9000, 9000)  # 81 Mpixel in 250 KB
    (path / "devzero.jpg").symlink_to("/dev/zero")
    (path / "escape.jpg").symlink_to("/etc/hostname")
    return path


NOT_FILES = [
    ("fifo.jpg", "is a FIFO, not a regular file"),
    ("socket.jpg", "is a socket, not a regular file"),
    ("directory.jpg", "is a directory, not a regular file"),
    ("loop.jpg", "symbolic link"),
    ("over_cap.jpg", "over the 67108864-byte limit (IMAGE_MAX_BYTES)"),
    ("huge.png", "9000x9000, over the 80000000-pixel limit"),
]


@pytest.mark.parametrize(("name", "reason"), NOT_FILES, ids=[name for name, _ in NOT_FILES])
def test_not_an_image_file_ends_failed_at_once_and_a_photo_after_it_is_recognised(mesh, folder, name, reason):
    relative = f"{folder.name}/{name}"
    image = mesh.wait_final(mesh.post(relative)["id"], timeout=FAIL_WITHIN_SECONDS)
    assert image["status"] == "FAILED", image
    assert image["detail"].startswith("INVALID_ARGUMENT"), image["detail"]
    assert reason in image["detail"], image["detail"]
    assert image["attempts"] == 1  # not retried: the image is bad, the recognizer is fine
    assert str(mesh.image_root) not in image["detail"]
    # The recognizer is not wedged: a photo posted right after is recognised.
    photo = f"{folder.name}/after-{name}.jpg"
    shutil.copy(mesh.image_root / "obama2.jpg", mesh.image_root / photo)
    after = mesh.wait_final(mesh.post(photo)["id"], timeout=FAIL_WITHIN_SECONDS)
    assert (after["status"], after["person"]) == ("PROCESSED", "obama"), after


@pytest.mark.parametrize("name", ["devzero.jpg", "escape.jpg"])
def test_links_out_of_the_root_are_refused_at_the_post_and_by_the_recognizer(mesh, folder, name):
    relative = f"{folder.name}/{name}"
    with mesh.api() as api:
        response = api.post("/image/post", json={"path": relative})
    assert response.status_code == 422 and "outside the image root" in response.json()["error"]
    with grpc.insecure_channel(mesh.recognizer_address) as channel:
        with pytest.raises(grpc.RpcError) as caught:
            pb_grpc.RecognizerStub(channel).Identify(pb.IdentifyRequest(image_path=relative), timeout=30)
    assert caught.value.code() == grpc.StatusCode.PERMISSION_DENIED


def test_enrolling_a_fifo_is_refused_at_once(mesh, folder):
    with mesh.api() as api:
        response = api.post("/person", json={"name": "nobody", "paths": [f"{folder.name}/fifo.jpg"]})
    assert response.status_code == 422, response.text
    assert "FIFO" in response.json()["error"]


def test_recognizer_liveness_answers_while_it_recognises(mesh, folder):
    livez = f"http://127.0.0.1:{mesh.env['RECOGNIZER_METRICS_PORT']}/livez"
    mesh.wait_final(mesh.post(f"{folder.name}/fifo.jpg")["id"], timeout=FAIL_WITHIN_SECONDS)
    reply = httpx.get(livez, timeout=10)
    assert reply.status_code == 200 and reply.json()["status"] == "ok"


def _row(mesh, relative: str) -> int:
    return mesh.wait_final(mesh.post(relative)["id"], timeout=FAIL_WITHIN_SECONDS)["id"]


@pytest.mark.parametrize("name", ["fifo.jpg", "socket.jpg", "loop.jpg", "huge.png", "over_cap.jpg"])
def test_previews_of_unreadable_files_are_the_placeholder(mesh, folder, name):
    image_id = _row(mesh, f"{folder.name}/{name}")
    for route in ("thumbnail", "picture"):
        reply = httpx.get(f"{mesh.frontend_url}/image/{image_id}/{route}", timeout=30)
        assert reply.headers["content-type"].startswith("image/svg+xml"), (route, reply.status_code)
    page = httpx.get(f"{mesh.frontend_url}/image/{image_id}", timeout=30)
    assert page.status_code == 200


def _decoded(mesh) -> float:
    return mesh.metric(f"{mesh.frontend_url}/metrics", "frontend_previews_decoded_total")


def test_a_picture_too_large_to_preview_is_not_decoded(mesh, folder):
    image_id = _row(mesh, f"{folder.name}/huge.png")
    before = _decoded(mesh)
    reply = httpx.get(f"{mesh.frontend_url}/image/{image_id}/picture", timeout=30)
    assert reply.headers["content-type"].startswith("image/svg+xml")
    assert _decoded(mesh) == before


def test_concurrent_requests_for_one_missing_thumbnail_decode_it_once(mesh, folder):
    photo = f"{folder.name}/concurrent-{uuid.uuid4().hex[:8]}.jpg"
    shutil.copy(mesh.image_root / "obama2.jpg", mesh.image_root / photo)
    image_id = _row(mesh, photo)
    before = _decoded(mesh)
    with ThreadPoolExecutor(8) as pool:
        replies = list(
            pool.map(
                lambda _: httpx.get(f"{mesh.frontend_url}/image/{image_id}/picture", timeout=60), range(8)
            )
        )
    assert {r.headers["content-type"] for r in replies} == {"image/jpeg"}
    assert len({r.content for r in replies}) == 1
    assert _decoded(mesh) == before + 1
