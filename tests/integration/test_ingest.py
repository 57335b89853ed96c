"""Group commit in the receiver: concurrent posts share transactions and MPUBs, and every 202
still means the row is committed and its id is on nsqd."""

from __future__ import annotations

import asyncio
import json
import uuid
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from kubeface.db import Database
from kubeface.images import insert_images
from kubeface.queue import NsqPublisher, PublishError
from receiver.ingest import IngestBatcher
from tests.servers import free_port

pytestmark = [
    pytest.mark.mesh,
    # kubeface.db reuses pooled connections with ping(reconnect=True), which PyMySQL 1.2 deprecates.
    pytest.mark.filterwarnings("ignore:The 'reconnect' argument is deprecated:DeprecationWarning"),
]


def _settings(mesh, **overrides):
    return mesh.settings(**{"nsqd_http_address": mesh.env["NSQD_HTTP_ADDRESS"], **overrides})


def _topic_depth(mesh) -> int:
    stats = httpx.get(f"http://{mesh.env['NSQD_HTTP_ADDRESS']}/stats", params={"format": "json"}).json()
    return sum(t["message_count"] for t in stats["topics"] if t["topic_name"] == "images")


def test_concurrent_posts_are_each_committed_and_processed(mesh):
    tag = uuid.uuid4().hex[:8]
    paths = [f"ingest-{tag}/{i}.jpg" for i in range(60)]  # no such files: each ends FAILED
    published_before = _topic_depth(mesh)
    with mesh.api() as api, ThreadPoolExecutor(32) as pool:
        answers = list(pool.map(lambda p: api.post("/image/post", json={"path": p}), paths))
    assert [a.status_code for a in answers] == [202] * len(paths)
    ids = [a.json()["id"] for a in answers]
    assert len(set(ids)) == len(paths)
    rows = mesh.sql(f"SELECT id, path FROM images WHERE path LIKE 'ingest-{tag}/%%'")
    assert {r["id"]: r["path"] for r in rows} == dict(zip(ids, paths, strict=True))
    assert _topic_depth(mesh) - published_before >= len(paths)
    for image_id in ids[:5]:  # published for real: a processor picks each one up
        assert mesh.wait_final(image_id)["status"] == "FAILED"


def test_one_new_path_posted_at_once_is_created_exactly_once(mesh):
    path = f"ingest-{uuid.uuid4().hex[:8]}/same.jpg"
    with mesh.api() as api, ThreadPoolExecutor(16) as pool:
        answers = list(pool.map(lambda _: api.post("/image/post", json={"path": path}), range(16)))
    assert sorted(a.status_code for a in answers) == [200] * 15 + [202]
    assert len({a.json()["id"] for a in answers}) == 1


def test_a_batch_with_a_repeated_path_creates_one_row(mesh):
    tag = uuid.uuid4().hex[:8]
    paths = [f"ingest-{tag}/a.jpg", f"ingest-{tag}/b.jpg", f"ingest-{tag}/a.jpg", "../outside.jpg"]
    with mesh.api() as api:
        body = api.post("/images/post", json={"paths": paths}).json()
    assert (body["accepted"], body["refused"]) == (3, 1)
    first, second, again, refused = body["results"]
    assert (first["duplicate"], second["duplicate"], again["duplicate"]) == (False, False, True)
    assert again["id"] == first["id"] != second["id"]
    assert "outside" in refused["error"]


def test_insert_images_tells_new_rows_from_existing_ones(mesh):
    db = Database(_settings(mesh))
    tag = uuid.uuid4().hex[:8]
    try:
        [old] = insert_images(db, [f"ingest-{tag}/old.jpg"])
        posted = insert_images(db, [f"ingest-{tag}/new.jpg", f"ingest-{tag}/old.jpg"])
    finally:
        db.close()
    assert old.created and posted[0].created and not posted[1].created
    assert posted[1].image_id == old.image_id


def test_an_unpublished_batch_fails_every_post_but_keeps_the_rows(mesh):
    settings = _settings(mesh, nsqd_http_address=f"127.0.0.1:{free_port()}")  # nobody listens
    db, publisher = Database(settings), NsqPublisher(settings, timeout_seconds=2)
    batcher = IngestBatcher(db, publisher, image_root=settings.resolved_image_root)
    tag = uuid.uuid4().hex[:8]
    try:

        async def post_each() -> list:
            posts = (batcher.post([f"ingest-{tag}/{i}.jpg"]) for i in range(5))
            return await asyncio.wait_for(asyncio.gather(*posts, return_exceptions=True), 30)

        outcomes = asyncio.run(post_each())
        assert all(isinstance(outcome, PublishError) for outcome in outcomes), outcomes
    finally:
        batcher.close()
        publisher.close()
        db.close()
    # Stored but not queued: posting again publishes them (and the retry job would too).
    assert len(mesh.sql(f"SELECT id FROM images WHERE path LIKE 'ingest-{tag}/%%'")) == 5


def test_a_refused_path_among_concurrent_posts_is_answered_alone(mesh):
    tag = uuid.uuid4().hex[:8]
    good = [f"ingest-{tag}/{i}.jpg" for i in range(30)]
    bad = ["../outside.jpg", f"ingest-{tag}/back\\slash.jpg", "/etc/passwd"]
    paths = good[:15] + bad + good[15:]
    with mesh.api() as api, ThreadPoolExecutor(16) as pool:
        answers = dict(
            zip(paths, pool.map(lambda p: api.post("/image/post", json={"path": p}), paths), strict=True)
        )
    assert [answers[p].status_code for p in bad] == [422] * len(bad)
    assert "outside the image root" in answers["../outside.jpg"].json()["error"]
    assert "backslash" in answers[bad[1]].json()["error"]
    assert [answers[p].status_code for p in good] == [202] * len(good)
    rows = mesh.sql(f"SELECT path FROM images WHERE path LIKE 'ingest-{tag}/%%'")
    assert sorted(r["path"] for r in rows) == sorted(good)


def test_each_posted_image_is_logged_with_its_request_id(mesh):
    request_id = f"ingest-log-{uuid.uuid4().hex[:8]}"
    with mesh.api() as api:
        answer = api.post(
            "/image/post", json={"path": f"{request_id}/a.jpg"}, headers={"x-request-id": request_id}
        )
    image_id = answer.json()["id"]
    entry = {"image_id": image_id, "new_record": True, "request_id": request_id}
    logged = [
        json.loads(line)
        for line in (mesh.log_dir / "receiver.log").read_text().splitlines()
        if request_id in line and line.startswith("{")
    ]
    assert any(line["message"] == "images posted" and entry in line["images"] for line in logged), logged
