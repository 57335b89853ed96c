"""The audit log is written in the writer's transaction: it never disagrees with the data."""

from __future__ import annotations

import hashlib
import json
import struct
import uuid
from urllib.parse import quote

import httpx
import pytest

from kubeface.audit import AuditAction, AuditEntry, read_records, record
from kubeface.images import insert_images
from receiver.auth import ACTOR_HEADER
from tests.photos import SPARE_FACE, unique_name, write_blank_png
from tests.servers import free_port

pytestmark = pytest.mark.mesh


def test_a_record_is_read_back_newest_first_and_filtered(db):
    target = unique_name("person")
    with db.transaction() as cur:
        record(cur, actor="alice", action=AuditAction.RENAME, target=target, details={"from": "a", "to": "b"})
    with db.transaction() as cur:
        record(cur, actor="bob", action=AuditAction.ERASE, target=target, details={"photos": 2})
    records = read_records(db, target=target)
    assert [(r.actor, r.action, r.details) for r in records] == [
        ("bob", "erase", {"photos": 2}),
        ("alice", "rename", {"from": "a", "to": "b"}),
    ]
    assert [r.actor for r in read_records(db, target=target, actor="alice")] == ["alice"]
    assert read_records(db, target=target, before_id=records[1].id) == []


def test_a_write_that_rolls_back_leaves_no_record(db):
    target = unique_name("person")
    with pytest.raises(RuntimeError), db.transaction() as cur:
        record(cur, actor="alice", action=AuditAction.MERGE, target=target, details={})
        raise RuntimeError("the write failed after its record")
    assert read_records(db, target=target) == []


# --- every operator or client write leaves exactly one record, by who made it ---------------


def _records(mesh, action: str, target: str) -> list[dict]:
    return mesh.sql(
        "SELECT actor, details FROM audit_log WHERE action = %s AND target = %s ORDER BY id",
        (action, target),
    )


def _details(row: dict) -> dict:
    return json.loads(row["details"])


def _spare_copy(mesh) -> str:
    if not (mesh.image_root / SPARE_FACE).exists():
        pytest.skip("../shared/faces is absent: the sdist's faces are all spoken for by other tests")
    return mesh.photo_copy(SPARE_FACE, "audit")


def _failed_image(mesh) -> int:
    """A row of this test's own that ends FAILED (its file does not exist)."""
    image = mesh.wait_final(mesh.post(f"audit/{unique_name('missing')}.jpg")["id"])
    assert image["status"] == "FAILED"
    return int(image["id"])


def test_enrolling_and_adding_photos_by_token_are_each_recorded_once(mesh):
    name, first, second = unique_name("audit"), _spare_copy(mesh), _spare_copy(mesh)
    with mesh.api() as api:
        created = api.post("/person", json={"name": name, "paths": [first]})
        assert created.status_code == 201, created.text
        person = created.json()["id"]
        taken = api.post("/person", json={"name": name, "paths": [second]})
        assert taken.status_code == 409
        added = api.post(f"/person/{person}/photos", json={"paths": [second]})
        assert added.status_code == 201, added.text
    enrol = _records(mesh, "enrol", f"person:{person}")
    assert [(r["actor"], _details(r)["name"], _details(r)["paths"]) for r in enrol] == [
        ("api-token", name, [first])
    ]
    add = _records(mesh, "add_photo", f"person:{person}")
    assert [(r["actor"], _details(r)["paths"]) for r in add] == [("api-token", [second])]


def test_a_refused_enrolment_leaves_no_record(mesh):
    name = unique_name("audit")
    (mesh.image_root / "audit").mkdir(exist_ok=True)
    blank = f"audit/{name}.png"
    write_blank_png(mesh.image_root / blank, 64, 64)
    with mesh.api() as api:
        no_face = api.post("/person", json={"name": name, "paths": [blank]})
        assert no_face.status_code == 422, no_face.text
        missing = api.post("/person/999999999/photos", json={"paths": [blank]})
        assert missing.status_code in (404, 422)
    assert not mesh.sql("SELECT id FROM audit_log WHERE JSON_VALUE(details, '$.name') = %s", (name,))
    assert not mesh.sql("SELECT id FROM audit_log WHERE target = 'person:999999999'")


def test_enrolling_from_an_image_records_the_enrolment_and_the_image_requeue(mesh):
    image = mesh.wait_final(mesh.post(_spare_copy(mesh))["id"])
    name = unique_name("audit")
    with mesh.api() as api:
        answer = api.post(f"/image/{image['id']}/enroll", json={"name": name, "face": 0})
        assert answer.status_code == 201, answer.text
    person = answer.json()["id"]
    enrol = _records(mesh, "enrol", f"person:{person}")
    assert [(r["actor"], _details(r)["image_id"]) for r in enrol] == [("api-token", image["id"])]
    requeue = _records(mesh, "requeue", f"image:{image['id']}")
    assert [(r["actor"], _details(r)) for r in requeue] == [
        ("api-token", {"reason": "enrolment", "image_ids": [image["id"]]})
    ]
    mesh.wait_final(image["id"])


def test_requeues_are_recorded_with_the_ids_won_and_a_refused_one_is_not(mesh):
    one, many = _failed_image(mesh), [_failed_image(mesh) for _ in range(2)]
    with mesh.api() as api:
        assert api.post(f"/image/{one}/requeue").status_code == 202
        assert api.post("/image/999999999/requeue").status_code == 404
        bulk = api.post("/images/requeue", json={"status": "FAILED"})
        assert bulk.status_code == 202, bulk.text
    assert [(r["actor"], _details(r)["image_ids"]) for r in _records(mesh, "requeue", f"image:{one}")] == [
        ("api-token", [one])
    ]
    assert not _records(mesh, "requeue", "image:999999999")
    won = bulk.json()["requeued"]
    bulk_records = [
        _details(r)
        for r in _records(mesh, "requeue", "images:FAILED")
        if set(many) & set(_details(r)["image_ids"])
    ]
    assert len(bulk_records) == 1 and bulk_records[0]["image_ids"] == won


def test_an_upload_is_recorded_once_with_its_sha256_and_path(mesh):
    data = (mesh.image_root / "obama2.jpg").read_bytes()
    comment = f"audit {uuid.uuid4().hex}".encode()
    data = data[:2] + b"\xff\xfe" + struct.pack(">H", len(comment) + 2) + comment + data[2:]
    digest = hashlib.sha256(data).hexdigest()
    with mesh.api() as api:
        first = api.post("/image/upload", content=data, headers={"content-type": "image/jpeg"})
        again = api.post("/image/upload", content=data, headers={"content-type": "image/jpeg"})
    assert (first.status_code, again.status_code) == (202, 200)
    rows = _records(mesh, "upload", f"image:{first.json()['id']}")
    assert [(r["actor"], _details(r)) for r in rows] == [
        ("api-token", {"path": f"uploads/{digest}.jpg", "sha256": digest})
    ]


def test_posts_committed_together_are_each_recorded_with_their_own_actor(db):
    """receiver/ingest.py commits concurrent uploads in one transaction: each keeps its actor."""
    a, b = f"audit/{unique_name('a')}.jpg", f"audit/{unique_name('b')}.jpg"
    audits = [
        AuditEntry(name, AuditAction.UPLOAD, details={"path": p}) for name, p in (("ann", a), ("bo", b))
    ]
    posted = insert_images(db, [a, b, a], [*audits, AuditEntry("cy", AuditAction.UPLOAD)])
    for image, actor in ((posted[0], "ann"), (posted[1], "bo")):
        assert [r.actor for r in read_records(db, target=f"image:{image.image_id}")] == [actor]


def test_an_operator_named_in_the_header_is_recorded_percent_decoded(mesh):
    image = _failed_image(mesh)
    with mesh.api() as api:
        bad = api.post(f"/image/{image}/requeue", headers={ACTOR_HEADER: "%FF"})
        assert bad.status_code == 422 and "percent-encoded UTF-8" in bad.json()["error"]
        ok = api.post(f"/image/{image}/requeue", headers={ACTOR_HEADER: quote("zoë ü", safe="")})
        assert ok.status_code == 202, ok.text
    assert [r["actor"] for r in _records(mesh, "requeue", f"image:{image}")] == ["zoë ü"]


def test_a_write_through_the_frontend_names_the_operator_even_in_non_ascii(mesh):
    login, password = "Žofie-操作員", "audit-operator-password"
    port = free_port()
    instance = f"frontend-{unique_name('audit')}"
    env = {"FRONTEND_PORT": str(port), "FRONTEND_USER": login, "FRONTEND_PASSWORD": password}
    mesh.start("frontend", instance=instance, env=env)
    try:
        image = _failed_image(mesh)
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", auth=(login, password), timeout=120) as web:
            done = web.post(f"/image/{image}/requeue")
            assert done.status_code == 303, done.text
    finally:
        mesh.stop(instance)
    assert [r["actor"] for r in _records(mesh, "requeue", f"image:{image}")] == [login]


# --- reading the record: GET /audit and the frontend page ---------------------------------------


def _three_records(db) -> str:
    target = unique_name("audit-target")
    for actor in ("ann", "bo", "ann"):
        with db.transaction() as cur:
            record(cur, actor=actor, action=AuditAction.RENAME, target=target, details={"by": actor})
    return target


def test_get_audit_filters_and_pages_newest_first_and_needs_the_token(mesh, db):
    target = _three_records(db)
    with mesh.api() as api:
        page = api.get("/audit", params={"target": target, "limit": 2}).json()
        assert [r["actor"] for r in page["records"]] == ["ann", "bo"]
        older = api.get("/audit", params={"target": target, "before": page["next_before"]}).json()
        assert [r["actor"] for r in older["records"]] == ["ann"] and older["next_before"] is None
        ids = [r["id"] for r in page["records"] + older["records"]]
        assert ids == sorted(ids, reverse=True)
        by_actor = api.get("/audit", params={"target": target, "actor": "bo", "action": "rename"}).json()
        assert [r["details"] for r in by_actor["records"]] == [{"by": "bo"}]
        assert api.get("/audit", params={"action": "nonsense"}).status_code == 422
        assert api.get("/audit", params={"limit": 501}).status_code == 422
    with mesh.api(token=None) as anonymous:
        assert anonymous.get("/audit", params={"target": target}).status_code == 401


def test_the_audit_page_shows_records_to_an_operator_and_refuses_anyone_else(mesh, db):
    target = _three_records(db)
    with mesh.operator() as web:
        page = web.get("/audit", params={"target": target})
        assert page.status_code == 200, page.text
        assert page.text.count(target) >= 3 and '<th scope="col">Actor</th>' in page.text
        assert web.get("/audit", params={"action": "nonsense"}).status_code == 400
    # The session's frontend has no operator login: its pages are open, this one is not.
    assert httpx.get(f"{mesh.frontend_url}/audit", timeout=60).status_code == 403


def test_the_retry_job_records_a_pass_that_requeued_something(mesh):
    image = _failed_image(mesh)
    result = mesh.run("retry", "--json", env={"RETRY_BACKOFF_SECONDS": "0"})
    assert result.returncode == 0, result.stderr
    passes = [
        (r["actor"], _details(r)["counts"]["failed"])
        for r in _records(mesh, "retry_pass", "images")
        if image in _details(r)["image_ids"].get("failed", [])
    ]
    assert len(passes) == 1 and passes[0][0] == "retry-job" and passes[0][1] >= 1


def test_the_cli_prints_the_records_filtered(mesh, db):
    target = _three_records(db)
    result = mesh.run("audit", "--json", "--target", target, "--actor", "ann", "--limit", "1")
    assert result.returncode == 0, result.stderr
    answer = json.loads(result.stdout)
    assert [r["actor"] for r in answer["records"]] == ["ann"] and answer["next_before"] is not None
    table = mesh.run("audit", "--target", target)
    assert table.returncode == 0, table.stderr
    assert table.stdout.count(target) == 3
