"""Managing people on the real mesh: rename, merge, remove a photo, erase (with its receipt)."""

from __future__ import annotations

import json
import random
import time

import grpc
import pytest
from PIL import Image, ImageOps

from kubeface.proto import recognizer_pb2 as pb
from kubeface.proto import recognizer_pb2_grpc as pb_grpc
from tests.photos import SPARE_FACE, unique_name
from tests.servers import free_port, wait_until

pytestmark = pytest.mark.mesh


def own_face(mesh) -> str:
    """A picture of the spare face that no other test has: mirrored and scaled by a random
    factor, so that a copy of it is nearest (distance 0) to this test's enrolment only."""
    if not (mesh.image_root / SPARE_FACE).exists():
        pytest.skip("../shared/faces is absent")
    relative = f"people_admin/{unique_name('face')}.png"
    target = mesh.image_root / relative
    target.parent.mkdir(parents=True, exist_ok=True)
    with Image.open(mesh.image_root / SPARE_FACE) as img:
        picture = ImageOps.mirror(img.convert("RGB"))
        scale = random.uniform(0.75, 0.95)
        picture.resize((int(picture.width * scale), int(picture.height * scale))).save(target)
    return relative


def copy_of(mesh, relative: str) -> str:
    return mesh.photo_copy(relative)


def enrol(api, paths: list[str]) -> dict:
    response = api.post("/person", json={"name": unique_name("person"), "paths": paths})
    assert response.status_code == 201, response.text
    return response.json()


def recognised(mesh, path: str) -> dict:
    time.sleep(1.5)  # GALLERY_REFRESH_SECONDS is 0.5 in the tests
    return mesh.wait_final(mesh.post(path)["id"])


def audit_actions(mesh, person_id: int) -> list[str]:
    rows = mesh.sql("SELECT action FROM audit_log WHERE target = %s ORDER BY id", (f"person:{person_id}",))
    return [row["action"] for row in rows]


def test_a_rename_shows_everywhere_and_a_taken_name_is_refused(mesh):
    with mesh.api() as api:
        first, second = enrol(api, [own_face(mesh)]), enrol(api, [own_face(mesh)])
        new_name = unique_name("renamed")
        response = api.patch(f"/person/{first['id']}", json={"name": new_name})
        assert response.status_code == 200, response.text
        assert api.get(f"/person/{first['id']}").json()["name"] == new_name
        taken = api.patch(f"/person/{first['id']}", json={"name": second["name"]})
        assert taken.status_code == 409
        assert taken.json()["person_id"] == second["id"]
        assert api.patch(f"/person/{first['id']}", json={"name": "  "}).status_code == 422
        assert api.patch("/person/999999999", json={"name": unique_name("x")}).status_code == 404
    assert audit_actions(mesh, first["id"]) == ["enrol", "rename"]


def test_people_are_listed_with_counts_and_paged(mesh):
    face = own_face(mesh)
    with mesh.api() as api:
        person = enrol(api, [face])
        image = recognised(mesh, copy_of(mesh, face))
        assert image["person"] == person["name"]
        shown = api.get(f"/person/{person['id']}").json()
        assert (shown["photo_count"], shown["image_count"]) == (1, 1)
        assert [p["path"] for p in shown["photos"]] == [face]
        page = api.get("/people", params={"after": person["id"] - 1, "limit": 1}).json()
        assert [p["id"] for p in page["people"]] == [person["id"]]
        assert page["people"][0]["image_count"] == 1
        assert page["next_after"] == person["id"]


def test_writes_need_the_token(mesh):
    with mesh.api(token=None) as anonymous:
        assert anonymous.patch("/person/1", json={"name": unique_name("x")}).status_code == 401
        assert anonymous.delete("/person/1").status_code == 401
        assert anonymous.post("/person/1/merge", json={"into": 2}).status_code == 401


def test_a_merge_moves_the_photos_and_relabels_the_images(mesh):
    merged_face = own_face(mesh)
    with mesh.api() as api:
        merged, kept = enrol(api, [merged_face]), enrol(api, [own_face(mesh)])
        before = recognised(mesh, copy_of(mesh, merged_face))
        assert before["person"] == merged["name"]
        assert api.post(f"/person/{kept['id']}/merge", json={"into": kept["id"]}).status_code == 422
        assert api.post(f"/person/{merged['id']}/merge", json={"into": 999999999}).status_code == 404
        response = api.post(f"/person/{merged['id']}/merge", json={"into": kept["id"]})
        assert response.status_code == 200, response.text
        assert response.json()["photos_moved"] == 1
        assert api.get(f"/person/{merged['id']}").status_code == 404
        assert len(api.get(f"/person/{kept['id']}").json()["photos"]) == 2
        after = api.get(f"/image/{before['id']}").json()
        assert after["person"] == kept["name"]
        assert [face["person"] for face in after["faces"]] == [kept["name"]]
    # The recognizers reload: a new picture of the merged face is the kept person's.
    assert recognised(mesh, copy_of(mesh, merged_face))["person"] == kept["name"]
    assert audit_actions(mesh, merged["id"])[-1] == "merge"


def test_removing_a_photo_re_identifies_what_it_matched(mesh):
    removed_face, other_face = own_face(mesh), own_face(mesh)
    with mesh.api() as api:
        person = enrol(api, [removed_face, other_face])
        removed_id = person["images"][0]["id"]
        image = recognised(mesh, copy_of(mesh, removed_face))
        assert image["person"] == person["name"]
        response = api.delete(f"/person/{person['id']}/photos/{removed_id}")
        assert response.status_code == 200, response.text
        assert response.json()["images_requeued"] == 1
        assert api.delete(f"/person/{person['id']}/photos/{removed_id}").status_code == 404
        assert [p["id"] for p in api.get(f"/person/{person['id']}").json()["photos"]] == [
            person["images"][1]["id"]
        ]
    again = mesh.wait_final(image["id"])
    assert again["status"] in ("PROCESSED", "PENDING")
    assert not mesh.sql("SELECT id FROM faces WHERE person_image_id = %s", (removed_id,))
    assert audit_actions(mesh, person["id"])[-1] == "remove_photo"


@pytest.fixture
def second_recognizer(mesh):
    """Another recognizer process on its own port, as a second replica would be."""
    port, metrics = free_port(), free_port()
    instance = unique_name("recognizer")
    env = {"RECOGNIZER_PORT": str(port), "RECOGNIZER_METRICS_PORT": str(metrics)}
    mesh.start("recognizer", instance=instance, env=env)
    yield f"127.0.0.1:{port}"
    mesh.stop(instance)


def named_ids(address: str, path: str) -> set[int]:
    with grpc.insecure_channel(address) as channel:
        reply = pb_grpc.RecognizerStub(channel).Identify(pb.IdentifyRequest(image_path=path), timeout=60)
    return {face.named.person_id for face in reply.faces if face.HasField("named")}


def test_erasure_leaves_no_trace_the_recognizers_could_match(mesh, second_recognizer):
    face = own_face(mesh)
    replicas = [mesh.recognizer_address, second_recognizer]
    with mesh.api() as api:
        person = enrol(api, [face])
        image = recognised(mesh, copy_of(mesh, face))
        assert image["person"] == person["name"]
        photo_id = person["images"][0]["id"]
        wait_until(lambda: all(person["id"] in named_ids(r, face) for r in replicas), 30, "both loaded")
        response = api.delete(f"/person/{person['id']}")
        assert response.status_code == 200, response.text
        receipt = response.json()
        assert {k: receipt[k] for k in ("person_id", "name", "photos_removed", "images_requeued")} == {
            "person_id": person["id"],
            "name": person["name"],
            "photos_removed": 1,
            "images_requeued": 1,
        }
        assert receipt["faces_unlinked"] >= 1 and receipt["erased_at"]
        assert api.get(f"/person/{person['id']}").status_code == 404
        assert api.delete(f"/person/{person['id']}").status_code == 404
    # GALLERY_REFRESH_SECONDS is 0.5: after one refresh, neither process matches the erased face.
    time.sleep(1.0)
    for replica in replicas:
        assert person["id"] not in named_ids(replica, face)
    after = mesh.wait_final(image["id"])
    assert after["person"] != person["name"] and after["status"] in ("PROCESSED", "PENDING")
    assert not mesh.sql(
        "SELECT id FROM faces WHERE person_id = %(p)s OR nearest_person_id = %(p)s"
        " OR runner_up_person_id = %(p)s OR person_image_id = %(i)s",
        {"p": person["id"], "i": photo_id},
    )
    assert not mesh.sql("SELECT id FROM person_images WHERE id = %s", (photo_id,))
    [erased] = mesh.sql(
        "SELECT actor, details FROM audit_log WHERE target = %s AND action = 'erase'",
        (f"person:{person['id']}",),
    )
    assert erased["actor"] == "api-token"


def test_the_people_command_lists_shows_renames_merges_removes_and_erases(mesh):
    def people(*args: str) -> dict:
        result = mesh.run("people", *args, "--json")
        assert result.returncode == 0, result.stderr
        return json.loads(result.stdout.strip().splitlines()[-1])

    with mesh.api() as api:
        first, second = enrol(api, [own_face(mesh)]), enrol(api, [own_face(mesh), own_face(mesh)])
    listed = {p["id"]: p for p in people("list")["people"]}
    assert listed[second["id"]]["photo_count"] == 2
    photos = people("show", str(second["id"]))["photos"]
    new_name = unique_name("cli")
    assert people("rename", str(first["id"]), new_name)["name"] == new_name
    taken = mesh.run("people", "rename", str(second["id"]), new_name)
    assert taken.returncode == 1 and "already exists" in taken.stderr
    assert people("rm", str(second["id"]), str(photos[0]["id"]))["photo_id"] == photos[0]["id"]
    merged = people("merge", str(second["id"]), str(first["id"]))
    assert (merged["into"], merged["photos_moved"]) == (first["id"], 1)
    receipt = people("erase", str(first["id"]))
    assert (receipt["name"], receipt["photos_removed"]) == (new_name, 2)
    gone = mesh.run("people", "show", str(first["id"]))
    assert gone.returncode == 1 and "no person" in gone.stderr.lower()
