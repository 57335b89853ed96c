"""Enrolment through the receiver, picked up by the running recognizer without a restart."""

from __future__ import annotations

import shutil
import time
import uuid

import pytest

from tests.photos import ENROLMENT_FACE, ENROLMENT_FACE_OTHER_PHOTO, unique_name

pytestmark = pytest.mark.mesh


def test_enrolling_a_person_makes_them_recognisable_without_a_restart(mesh):
    # A face only this test enrols (tests.photos): Biden must stay a stranger for the others.
    if not (mesh.image_root / ENROLMENT_FACE).exists():
        pytest.skip("../shared/faces is absent: the sdist's faces are all spoken for by other tests")
    name = unique_name("enrolled")
    reference = mesh.photo_copy(ENROLMENT_FACE, "known")
    after_enrolment = mesh.photo_copy(ENROLMENT_FACE_OTHER_PHOTO)
    recognizer_pid = mesh.services["recognizer"].popen.pid
    with mesh.api() as api:
        response = api.post("/person", json={"name": name, "paths": [reference]})
    assert response.status_code == 201, response.text
    assert response.json()["name"] == name
    time.sleep(1.5)  # GALLERY_REFRESH_SECONDS is 0.5 in the tests
    image = mesh.wait_final(mesh.post(after_enrolment)["id"])
    assert (image["status"], image["person"]) == ("PROCESSED", name)
    assert mesh.services["recognizer"].popen.pid == recognizer_pid


def test_encodings_are_cached_in_the_database(mesh):
    rows = mesh.sql("SELECT LENGTH(encoding) AS size FROM person_images")
    assert rows and all(row["size"] == 128 * 8 for row in rows)


def test_enrolling_the_same_photo_again_adds_no_duplicate(mesh):
    obama = mesh.sql("SELECT id FROM person WHERE name = 'obama'")[0]["id"]
    with mesh.api() as api:
        response = api.post(f"/person/{obama}/photos", json={"paths": ["known/obama.jpg"]})
    assert response.status_code == 201, response.text
    assert response.json()["created"] is False
    rows = mesh.sql(
        "SELECT COUNT(*) AS n FROM person_images pi JOIN person p ON p.id = pi.person_id"
        " WHERE p.name = 'obama' AND pi.path = 'known/obama.jpg'"
    )
    assert rows[0]["n"] == 1


@pytest.mark.parametrize(
    ("paths", "fragment"),
    [(["no_face.png"], "no face found"), (["missing.jpg"], "cannot use"), (["../x.jpg"], "outside")],
)
def test_enrolment_with_an_unusable_photo_is_refused(mesh, paths, fragment):
    with mesh.api() as api:
        response = api.post("/person", json={"name": "nobody", "paths": paths})
    assert response.status_code == 422
    assert fragment in response.json()["error"]
    assert not mesh.sql("SELECT id FROM person WHERE name = 'nobody'")


def test_enrolment_is_refreshed_when_rows_are_added_without_encodings(mesh):
    """A person inserted directly in SQL (as the original design did) gets encoded once and cached."""
    shutil.copy(mesh.image_root / "obama.jpg", mesh.image_root / "known" / "obama_sql.jpg")
    mesh.sql("INSERT INTO person (name) VALUES ('obama_sql')")
    mesh.sql(
        "INSERT INTO person_images (person_id, path, path_hash) SELECT id, 'known/obama_sql.jpg',"
        " UNHEX(SHA2('known/obama_sql.jpg', 256)) FROM person WHERE name = 'obama_sql'"
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        rows = mesh.sql(
            "SELECT encoding IS NOT NULL AS done FROM person_images WHERE path = 'known/obama_sql.jpg'"
        )
        if rows[0]["done"]:
            break
        time.sleep(0.3)
    assert rows[0]["done"], "the recognizer did not compute and cache the missing encoding"
    # Remove the look-alike again; the recognizer notices the deletion and reloads its gallery.
    mesh.sql("DELETE FROM person WHERE name = 'obama_sql'")
    time.sleep(1.5)
    image = mesh.wait_final(mesh.post(mesh.photo_copy("obama_partial_face2.jpg"))["id"])
    assert image["person"] == "obama"


def test_enrolling_someone_re_identifies_pending_images_they_are_in(mesh):
    shutil.copy(mesh.image_root / "obama2.jpg", mesh.image_root / "lookalike_pending.jpg")
    # A PENDING row with a face, finished before the enrolment below.
    image = mesh.wait_final(mesh.post("lookalike_pending.jpg")["id"])
    assert image["person"] == "obama"
    mesh.sql_bulk("UPDATE images SET status = 'PENDING', person_id = NULL WHERE id = %s", (image["id"],))
    shutil.copy(mesh.image_root / "obama.jpg", mesh.image_root / "known" / "obama_again.jpg")
    obama = mesh.sql("SELECT id FROM person WHERE name = 'obama'")[0]["id"]
    with mesh.api() as api:
        response = api.post(f"/person/{obama}/photos", json={"paths": ["known/obama_again.jpg"]})
    assert response.status_code == 201 and response.json()["requeued"] >= 1
    deadline = time.monotonic() + 60
    while mesh.wait_final(image["id"])["status"] == "PENDING" and time.monotonic() < deadline:
        time.sleep(0.3)
    assert (mesh.wait_final(image["id"])["status"], mesh.wait_final(image["id"])["person"]) == (
        "PROCESSED",
        "obama",
    )


def test_enrolling_from_an_image_whose_face_is_gone_is_the_callers_problem_not_a_503(mesh):
    """The recognizer's "no face" used to be answered 503 "unavailable", so callers retried forever."""
    path = f"enrol-gone-{uuid.uuid4().hex[:8]}.jpg"
    shutil.copy(mesh.image_root / "obama2.jpg", mesh.image_root / path)
    image = mesh.wait_final(mesh.post(path)["id"])
    assert len(image["faces"]) == 1, image
    shutil.copy(mesh.image_root / "no_face.png", mesh.image_root / path)  # the file was replaced since
    name = f"gone_{uuid.uuid4().hex[:8]}"
    with mesh.api() as api:
        answer = api.post(f"/image/{image['id']}/enroll", json={"name": name, "face": 0})
    assert answer.status_code == 422, answer.text
    # The stored face box no longer fits the (smaller) file: the answer says so and what to do.
    assert "not inside" in answer.json()["error"] and "re-queue" in answer.json()["error"]
    assert not mesh.sql("SELECT id FROM person WHERE name = %s", (name,))
