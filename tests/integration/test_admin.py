"""Operator endpoints on the receiver: re-queue one or all, enrol from an image's face."""

from __future__ import annotations

import shutil

import pytest

pytestmark = pytest.mark.mesh


def test_requeue_one_final_image_sends_it_back_to_the_processors(mesh):
    image = mesh.wait_final(mesh.post("admin/missing.jpg")["id"])
    assert image["status"] == "FAILED"
    (mesh.image_root / "admin").mkdir(exist_ok=True)
    shutil.copy(mesh.image_root / "obama2.jpg", mesh.image_root / "admin" / "missing.jpg")
    with mesh.api() as api:
        response = api.post(f"/image/{image['id']}/requeue")
        assert response.status_code == 202, response.text
        assert api.post("/image/999999/requeue").status_code == 404
    done = mesh.wait_final(image["id"])
    assert (done["status"], done["person"], done["attempts"]) == ("PROCESSED", "obama", 2)


def test_requeue_needs_the_operator_token(mesh):
    with mesh.api(token=None) as api:
        response = api.post("/images/requeue", json={"status": "FAILED"})
    assert response.status_code == 401


def test_requeue_all_failed_moves_each_row_once(mesh):
    ids = [mesh.wait_final(mesh.post(f"admin/gone-{n}.jpg")["id"])["id"] for n in range(3)]
    with mesh.api() as api:
        first = api.post("/images/requeue", json={"status": "FAILED"}).json()
        assert set(ids) <= set(first["requeued"])
        bad = api.post("/images/requeue", json={"status": "PROCESSED"})
        assert bad.status_code == 422
    for image_id in ids:
        assert mesh.wait_final(image_id)["attempts"] >= 2


def test_enrolling_from_an_image_refuses_a_face_that_is_not_the_largest(mesh):
    two = mesh.wait_final(mesh.post("two_faces.jpg")["id"])
    with mesh.api() as api:
        answer = api.post(f"/image/{two['id']}/enroll", json={"name": "admin_nobody", "face": 5})
        assert answer.status_code == 422 and "2 face(s)" in answer.json()["error"]
    assert not mesh.sql("SELECT id FROM person WHERE name = 'admin_nobody'")
