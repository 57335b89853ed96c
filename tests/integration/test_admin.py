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


def test_enrolling_from_an_image_refuses_a_face_index_it_does_not_have(mesh):
    two = mesh.wait_final(mesh.post("two_faces.jpg")["id"])
    with mesh.api() as api:
        answer = api.post(f"/image/{two['id']}/enroll", json={"name": "admin_nobody", "face": 5})
        assert answer.status_code == 422 and "2 face(s)" in answer.json()["error"]
        assert "pick a face index from 0 to 1" in answer.json()["error"]
    assert not mesh.sql("SELECT id FROM person WHERE name = 'admin_nobody'")


# A face no other test expects to be known or unknown, so that enrolling it changes no one's outcome.
SPARE_FACE = "shared/lin-manuel-miranda.png"


def _spare_face(mesh, copy_to: str) -> str:
    if not (mesh.image_root / SPARE_FACE).exists():
        pytest.skip("../shared/faces is absent: the sdist's faces are all spoken for by other tests")
    (mesh.image_root / "admin").mkdir(exist_ok=True)
    shutil.copy(mesh.image_root / SPARE_FACE, mesh.image_root / copy_to)
    return copy_to


def _new_person(mesh, name: str) -> int:
    """A person of this test's own, enrolled from a copy of the spare face."""
    _spare_face(mesh, f"admin/{name}.png")
    with mesh.api() as api:
        created = api.post("/person", json={"name": name, "paths": [f"admin/{name}.png"]})
    assert created.status_code == 201, created.text
    return created.json()["id"]


def _photos_of(mesh, person_id: int) -> int:
    return mesh.sql("SELECT COUNT(*) AS n FROM person_images WHERE person_id = %s", (person_id,))[0]["n"]


def test_a_taken_name_is_refused_instead_of_adding_the_face_to_that_person(mesh):
    """An attacker who types an existing name must not make their face count as that person."""
    victim = _new_person(mesh, "admin_victim")
    # The impostor's photo: refused by name before it is even encoded.
    shutil.copy(mesh.image_root / "biden.jpg", mesh.image_root / "admin" / "impostor.jpg")
    with mesh.api() as api:
        refused = api.post("/person", json={"name": "admin_victim", "paths": ["admin/impostor.jpg"]})
        assert refused.status_code == 409, refused.text
        assert refused.json()["person_id"] == victim
        assert f"/person/{victim}/photos" in refused.json()["error"]
        image = mesh.wait_final(mesh.post("admin/impostor.jpg")["id"])
        from_image = api.post(f"/image/{image['id']}/enroll", json={"name": " admin_victim ", "face": 0})
        assert from_image.status_code == 409, from_image.text
    assert _photos_of(mesh, victim) == 1


def test_adding_photos_to_an_existing_person_is_its_own_action(mesh):
    person = _new_person(mesh, "admin_added")
    _spare_face(mesh, "admin/added_more.png")
    with mesh.api() as api:
        added = api.post(f"/person/{person}/photos", json={"paths": ["admin/added_more.png"]})
        assert added.status_code == 201, added.text
        assert (added.json()["id"], added.json()["name"], added.json()["created"]) == (
            person,
            "admin_added",
            False,
        )
        missing = api.post("/person/99999999/photos", json={"paths": ["admin/added_more.png"]})
        assert missing.status_code == 404 and "no person with id 99999999" in missing.json()["error"]
    with mesh.api(token=None) as api:
        assert api.post(f"/person/{person}/photos", json={"paths": ["obama2.jpg"]}).status_code == 401
    assert _photos_of(mesh, person) == 2


def test_enrolling_a_face_from_an_image_into_an_existing_person_is_explicit(mesh):
    person = _new_person(mesh, "admin_from_image")
    image = mesh.wait_final(mesh.post(_spare_face(mesh, "admin/from_image.png"))["id"])
    with mesh.api() as api:
        both = api.post(f"/image/{image['id']}/enroll", json={"name": "x", "person_id": person})
        assert both.status_code == 422 and "not both" in str(both.json()["problems"])
        unknown = api.post(f"/image/{image['id']}/enroll", json={"person_id": 99999999, "face": 0})
        assert unknown.status_code == 404
        added = api.post(f"/image/{image['id']}/enroll", json={"person_id": person, "face": 0})
        assert added.status_code == 201, added.text
        assert (added.json()["id"], added.json()["created"]) == (person, False)
    assert _photos_of(mesh, person) == 2
