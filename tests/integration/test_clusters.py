"""Unknown faces grouped into clusters by `kubeface cluster`, and the operator's edits, on the mesh.

Real photos of Biden (unknown by design: clustering enrols nobody) show two photos of one person
landing in one cluster. The merge, ignore and remove tests place synthetic encodings of their own
far from every real face (a random direction at radius 50), so no other test's faces join them.
The enrolment test uses a resized copy of the spare face (tests.photos), which no other test
posts in that form.
"""

from __future__ import annotations

import time
import uuid

import grpc
import httpx
import numpy as np
import pytest
from PIL import Image

from kubeface.encodings import encoding_to_bytes
from kubeface.images.transitions import path_hash
from kubeface.proto import recognizer_pb2 as pb
from kubeface.proto import recognizer_pb2_grpc as pb_grpc
from tests.photos import SPARE_FACE, unique_name
from tests.servers import free_port

pytestmark = pytest.mark.mesh


@pytest.fixture(scope="module", autouse=True)
def cluster_worker(mesh):
    return mesh.start(
        "cluster", env={"CLUSTER_METRICS_PORT": str(free_port()), "CLUSTER_POLL_SECONDS": "0.2"}
    )


def _wait_placed(mesh, face_ids: list[int], timeout: float = 60) -> dict[int, int]:
    """face id -> cluster id once the worker has placed every one of them."""
    deadline = time.monotonic() + timeout
    while True:
        rows = mesh.sql("SELECT id, cluster_id FROM faces WHERE id IN %s", (face_ids,))
        placed = {r["id"]: r["cluster_id"] for r in rows if r["cluster_id"] is not None}
        if len(placed) == len(face_ids):
            return placed
        assert time.monotonic() < deadline, f"faces {face_ids} not placed after {timeout}s: {rows}"
        time.sleep(0.2)


def _image_of_its_own(mesh) -> int:
    path = f"synthetic/{unique_name('cluster')}.jpg"
    mesh.sql_bulk(
        "INSERT INTO images (path, path_hash, status, finished_at) VALUES (%s, %s, 'PENDING', NOW(6))",
        (path, path_hash(path)),
    )
    return int(mesh.sql("SELECT id FROM images WHERE path = %s", (path,))[0]["id"])


def _unknown_faces(mesh, image_id: int, encodings: list[np.ndarray]) -> list[int]:
    """Faces that matched nobody, as the processor stores them: a face row and its encoding."""
    ids = []
    for n, encoding in enumerate(encodings):
        mesh.sql(
            "INSERT INTO faces (image_id, box_top, box_right, box_bottom, box_left)"
            " VALUES (%s, 0, %s, 10, %s)",
            (image_id, 10 * n + 10, 10 * n),
        )
        face_id = int(mesh.sql("SELECT MAX(id) AS id FROM faces WHERE image_id = %s", (image_id,))[0]["id"])
        mesh.sql(
            "INSERT INTO face_encodings (face_id, encoding) VALUES (%s, %s)",
            (face_id, encoding_to_bytes(encoding)),
        )
        ids.append(face_id)
    return ids


def _far_away() -> tuple[np.ndarray, np.ndarray]:
    """A point far from every real face and every other test's point, and a unit direction."""
    rng = np.random.default_rng(uuid.uuid4().int % 2**32)
    base, step = rng.normal(size=128), rng.normal(size=128)
    return base / np.linalg.norm(base) * 50, step / np.linalg.norm(step)


def _listed(mesh, **params) -> dict[int, dict]:
    with mesh.api() as api:
        response = api.get("/clusters", params={"limit": 1000, **params})
    assert response.status_code == 200, response.text
    return {c["id"]: c for c in response.json()["clusters"]}


def test_two_photos_of_one_unknown_person_land_in_one_cluster(mesh):
    first = mesh.wait_final(mesh.post(mesh.photo_copy("biden.jpg"))["id"])
    second = mesh.wait_final(mesh.post(mesh.photo_copy("shared/people/biden/biden2.jpg"))["id"])
    assert (first["status"], second["status"]) == ("PENDING", "PENDING")
    faces = mesh.sql("SELECT id FROM faces WHERE image_id IN %s", ((first["id"], second["id"]),))
    placed = _wait_placed(mesh, [f["id"] for f in faces])
    assert len(faces) == 2 and len(set(placed.values())) == 1
    cluster = _listed(mesh)[next(iter(placed.values()))]
    assert cluster["size"] >= 2


def test_a_face_that_connects_two_clusters_merges_them(mesh):
    base, step = _far_away()
    image_id = _image_of_its_own(mesh)
    # 0.8 apart: beyond MATCH_TOLERANCE (0.6), so two clusters.
    apart = _unknown_faces(mesh, image_id, [base, base + 0.8 * step])
    before = _wait_placed(mesh, apart)
    assert len(set(before.values())) == 2
    # Halfway: within 0.4 of both.
    bridge = _unknown_faces(mesh, image_id, [base + 0.4 * step])
    after = _wait_placed(mesh, apart + bridge)
    assert len(set(after.values())) == 1
    merged = set(before.values()) - set(after.values())
    assert len(merged) == 1 and not mesh.sql("SELECT id FROM face_clusters WHERE id IN %s", (list(merged),))
    assert _listed(mesh)[after[bridge[0]]]["size"] == 3


def test_an_ignored_cluster_is_hidden_and_the_audit_log_says_who(mesh):
    base, step = _far_away()
    faces = _unknown_faces(mesh, _image_of_its_own(mesh), [base, base + 0.1 * step])
    cluster_id = _wait_placed(mesh, faces)[faces[0]]
    assert cluster_id in _listed(mesh)
    with mesh.api(token=None) as anonymous:
        assert anonymous.post(f"/cluster/{cluster_id}/ignore").status_code == 401
    with mesh.api() as api:
        response = api.post(f"/cluster/{cluster_id}/ignore", headers={"x-kubeface-actor": "ops_ignore"})
        assert response.status_code == 200, response.text
        assert api.post("/cluster/999999999/ignore").status_code == 404
    assert cluster_id not in _listed(mesh)
    assert _listed(mesh, include_ignored="true")[cluster_id]["ignored"] is True
    audit = mesh.sql("SELECT actor, action FROM audit_log WHERE target = %s", (f"cluster:{cluster_id}",))
    assert audit == [{"actor": "ops_ignore", "action": "cluster_ignore"}]


def test_a_face_removed_from_its_cluster_stays_out(mesh):
    base, step = _far_away()
    image_id = _image_of_its_own(mesh)
    kept, removed = _unknown_faces(mesh, image_id, [base, base + 0.1 * step])
    cluster_id = _wait_placed(mesh, [kept, removed])[kept]
    with mesh.api() as api:
        response = api.delete(f"/cluster/{cluster_id}/faces/{removed}")
        assert response.status_code == 200, response.text
        assert api.delete(f"/cluster/{cluster_id}/faces/{removed}").status_code == 404
    # A new face right beside the removed one joins the cluster through the kept face only.
    newcomer = _unknown_faces(mesh, image_id, [base + 0.1 * step])
    assert _wait_placed(mesh, newcomer)[newcomer[0]] == cluster_id
    assert mesh.sql("SELECT cluster_id FROM faces WHERE id = %s", (removed,)) == [{"cluster_id": None}]
    assert not mesh.sql("SELECT face_id FROM face_encodings WHERE face_id = %s", (removed,))
    faces = [f["face_id"] for f in _listed(mesh)[cluster_id]["faces"]]
    assert sorted(faces) == sorted([kept, *newcomer])
    audit = mesh.sql("SELECT action, details FROM audit_log WHERE target = %s", (f"cluster:{cluster_id}",))
    assert [a["action"] for a in audit] == ["cluster_remove_face"] and str(removed) in audit[0]["details"]


def test_an_enrolled_cluster_has_its_images_identified_as_the_new_person(mesh):
    if not (mesh.image_root / SPARE_FACE).is_file():
        pytest.skip(f"needs {SPARE_FACE} (../shared/faces)")
    # The spare face at 85 %: other tests enrol the spare face as it is (or mirrored), never this
    # file, so this test's own enrolment is the nearest to it.
    relative = f"copies/{unique_name('cluster_enrol')}.png"
    with Image.open(mesh.image_root / SPARE_FACE) as photo:
        small = photo.convert("RGB").resize((photo.width * 85 // 100, photo.height * 85 // 100))
        (mesh.image_root / relative).parent.mkdir(parents=True, exist_ok=True)
        small.save(mesh.image_root / relative)
    image = mesh.wait_final(mesh.post(relative)["id"])
    [face] = mesh.sql(
        "SELECT id, box_top, box_right, box_bottom, box_left FROM faces WHERE image_id = %s", (image["id"],)
    )
    if not mesh.sql("SELECT face_id FROM face_encodings WHERE face_id = %s", (face["id"],)):
        # Another test enrolled the spare face first, so it was recognised: queue it as unknown.
        box = pb.Box(
            top=face["box_top"], right=face["box_right"], bottom=face["box_bottom"], left=face["box_left"]
        )
        encoding = _encode(mesh, relative, box)
        mesh.sql(
            "INSERT INTO face_encodings (face_id, encoding) VALUES (%s, %s)",
            (face["id"], encoding_to_bytes(encoding)),
        )
    cluster_id = _wait_placed(mesh, [face["id"]])[face["id"]]
    name = unique_name("cluster_person")
    with mesh.api() as api:
        response = api.post(f"/cluster/{cluster_id}/enroll", json={"name": name})
    assert response.status_code == 201, response.text
    assert response.json()["requeued"] >= 1
    reidentified = mesh.wait_final(image["id"])
    assert (reidentified["status"], reidentified["person"]) == ("PROCESSED", name)
    assert cluster_id not in _listed(mesh)
    audit = mesh.sql("SELECT action FROM audit_log WHERE target = %s", (f"cluster:{cluster_id}",))
    assert [a["action"] for a in audit] == ["cluster_enrol"]


def _encode(mesh, path: str, box: pb.Box) -> np.ndarray:
    with grpc.insecure_channel(mesh.recognizer_address) as channel:
        reply = pb_grpc.RecognizerStub(channel).Encode(pb.EncodeRequest(image_path=path, box=box), timeout=60)
    return np.asarray(reply.encoding)


def test_the_unknown_people_page_shows_clusters_and_forms_only_to_an_operator(mesh):
    base, step = _far_away()
    faces = _unknown_faces(mesh, _image_of_its_own(mesh), [base, base + 0.1 * step])
    cluster_id = _wait_placed(mesh, faces)[faces[0]]
    public = httpx.get(f"{mesh.frontend_url}/unknown")
    assert public.status_code == 200 and f"Cluster {cluster_id} " in public.text
    assert f'action="/cluster/{cluster_id}/ignore"' not in public.text
    with mesh.operator() as client:
        page = client.get("/unknown")
        assert f'action="/cluster/{cluster_id}/ignore"' in page.text
        assert f'action="/cluster/{cluster_id}/faces/{faces[0]}/remove"' in page.text
        # Adding a cluster to someone already enrolled is its own form, with the people to pick from.
        assert f'aria-label="Add cluster {cluster_id} to an existing person"' in page.text
        assert ">obama</option>" in page.text
        done = client.post(
            f"/cluster/{cluster_id}/ignore", headers={"origin": str(client.base_url).rstrip("/")}
        )
        assert done.status_code == 303, done.text
        assert f"Cluster {cluster_id} " not in client.get("/unknown").text
    assert httpx.post(f"{mesh.frontend_url}/cluster/{cluster_id}/ignore").status_code in (401, 403, 405)
