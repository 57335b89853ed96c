"""Posts through the real receiver, NSQ, processor, recognizer and MariaDB, read back over the API."""

from __future__ import annotations

import shutil

import pytest

pytestmark = pytest.mark.mesh


def test_known_person_ends_processed_with_the_right_name(mesh):
    posted = mesh.post(mesh.photo_copy("obama2.jpg"))
    assert posted["status"] == "QUEUED"
    image = mesh.wait_final(posted["id"])
    assert image["status"] == "PROCESSED"
    assert image["person"] == "obama"
    assert len(image["faces"]) == 1
    face = image["faces"][0]
    assert face["person"] == "obama"
    assert 0 < face["distance"] < 0.6
    assert image["attempts"] == 1
    assert image["finished_at"] is not None


def test_rgba_png_is_read_as_rgb_and_recognised(mesh):
    image = mesh.wait_final(mesh.post("32bit.png")["id"])
    assert (image["status"], image["person"]) == ("PROCESSED", "obama")


def test_small_face_in_a_large_image_is_found(mesh):
    image = mesh.wait_final(mesh.post("obama3.jpg")["id"])
    assert (image["status"], image["person"]) == ("PROCESSED", "obama")


def test_stranger_ends_pending_with_the_distance_to_the_nearest(mesh):
    # Biden is in tests.photos.NEVER_ENROLLED: a stranger whatever ran before.
    image = mesh.wait_final(mesh.post(mesh.photo_copy("biden.jpg"))["id"])
    assert image["status"] == "PENDING"
    assert image["detail"] == "no known person matched"
    assert image["person"] is None
    [face] = image["faces"]
    assert face["person"] is None
    assert face["distance"] > 0.6


def test_image_without_a_face_ends_pending_with_its_detail(mesh):
    image = mesh.wait_final(mesh.post("no_face.png")["id"])
    assert (image["status"], image["detail"], image["faces"]) == ("PENDING", "no face found", [])


@pytest.mark.parametrize("path", ["missing/nobody.jpg", "corrupt.jpg", "truncated.jpg"])
def test_unusable_files_end_failed_with_a_reason(mesh, path):
    image = mesh.wait_final(mesh.post(path)["id"])
    assert image["status"] == "FAILED"
    expected = "NOT_FOUND" if path.startswith("missing") else "INVALID_ARGUMENT"
    assert image["detail"].startswith(expected), image["detail"]


def test_two_faces_are_both_reported_and_the_known_one_names_the_image(mesh):
    image = mesh.wait_final(mesh.post(mesh.photo_copy("two_faces.jpg"))["id"])
    assert image["status"] == "PROCESSED"
    assert image["person"] == "obama"
    assert len(image["faces"]) == 2
    assert sorted(str(face["person"]) for face in image["faces"]) == ["None", "obama"]


def test_shared_two_people_photo_yields_two_faces(mesh):
    if not (mesh.image_root / "shared" / "two_people.jpg").exists():
        pytest.skip("../shared/faces is absent; two_faces.jpg covers the same behaviour")
    image = mesh.wait_final(mesh.post("shared/two_people.jpg")["id"])
    assert len(image["faces"]) == 2


def test_duplicate_post_returns_the_same_record(mesh):
    path = mesh.photo_copy("obama_partial_face.jpg")
    first = mesh.post(path)
    with mesh.api() as api:
        again = api.post("/image/post", json={"path": path})
        absolute = api.post("/image/post", json={"path": str(mesh.image_root / path)})
    assert again.status_code == 200
    assert again.json()["id"] == first["id"]
    assert absolute.json()["id"] == first["id"]
    assert again.json()["duplicate"] is True
    mesh.wait_final(first["id"])
    assert len(mesh.sql("SELECT id FROM images WHERE path = %s", (path,))) == 1


@pytest.mark.parametrize(
    "path",
    ["../etc/passwd", "/etc/passwd", "known/../../outside.jpg", "..\\windows.jpg"],
)
def test_paths_outside_the_root_are_refused_at_the_receiver(mesh, path):
    rows_before = mesh.sql("SELECT COUNT(*) AS n FROM images")[0]["n"]
    with mesh.api() as api:
        response = api.post("/image/post", json={"path": path})
    assert response.status_code == 422
    assert "error" in response.json()
    assert mesh.sql("SELECT COUNT(*) AS n FROM images")[0]["n"] == rows_before


def test_symlink_leading_outside_the_root_is_refused(mesh, tmp_path):
    outside = tmp_path / "secret.jpg"
    outside.write_bytes(b"secret")
    (mesh.image_root / "sneaky.jpg").symlink_to(outside)
    with mesh.api() as api:
        response = api.post("/image/post", json={"path": "sneaky.jpg"})
    assert response.status_code == 422
    assert "symbolic link" in response.json()["error"]


@pytest.mark.parametrize(
    "body",
    [b"{not json", b'{"path": 5}', b'{"path": ""}', b"{}", b'{"path": "a.jpg", "extra": 1}', b"[]"],
)
def test_bad_requests_get_a_clear_json_4xx(mesh, body):
    with mesh.api() as api:
        response = api.post("/image/post", content=body, headers={"content-type": "application/json"})
    assert 400 <= response.status_code < 500
    assert response.json()["error"]


def test_batch_post_answers_per_item(mesh):
    with mesh.api() as api:
        paths = [mesh.photo_copy("obama_partial_face2.jpg"), "../nope.jpg"]
        response = api.post("/images/post", json={"paths": paths})
    assert response.status_code == 200
    body = response.json()
    assert (body["accepted"], body["refused"]) == (1, 1)
    ok, refused = body["results"]
    assert ok["status"] == "QUEUED" and "error" in refused
    assert mesh.wait_final(ok["id"])["person"] == "obama"


def test_unknown_image_id_is_a_404(mesh):
    with mesh.api() as api:
        response = api.get("/image/999999999")
    assert response.status_code == 404
    assert "999999999" in response.json()["error"]


def test_request_id_travels_from_receiver_to_recognizer_logs(mesh):
    request_id = "trace-me-0042"
    shutil.copy(mesh.image_root / "obama2.jpg", mesh.image_root / "traced.jpg")
    with mesh.api() as api:
        response = api.post("/image/post", json={"path": "traced.jpg"}, headers={"x-request-id": request_id})
    assert response.headers["x-request-id"] == request_id
    mesh.wait_final(response.json()["id"])
    for service in ("receiver", "processor", "recognizer"):
        lines = (mesh.log_dir / f"{service}.log").read_text().splitlines()
        assert any(f'"request_id": "{request_id}"' in line for line in lines), (
            f"no {request_id} in {service} log"
        )
