"""Group commit: a post whose value or path is bad fails alone; each post is logged with its ids."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import pytest

from kubeface.images import ImageStatus, Posted
from kubeface.logs import request_id_var
from kubeface.paths import PathRejected
from receiver import ingest
from receiver.ingest import IngestBatcher


class _Publisher:
    def __init__(self) -> None:
        self.published: list[int] = []

    def publish_messages(self, messages) -> None:
        self.published.extend(message.image_id for message in messages)


def _fake_insert(poison: str):
    """insert_images as MySQL would answer it: a value it cannot store fails the whole batch."""
    ids: dict[str, int] = {}

    def insert(_db, paths: list[str], _audits=()) -> list[Posted]:
        if poison in paths:
            raise ValueError(f"cannot store {poison!r}")
        return [Posted(ids.setdefault(p, len(ids) + 1), ImageStatus.QUEUED, True) for p in paths]

    return insert


def test_one_bad_post_in_a_batch_fails_alone(monkeypatch):
    monkeypatch.setattr(ingest, "insert_images", _fake_insert("bad.jpg"))
    publisher = _Publisher()
    batcher = IngestBatcher(db=None, publisher=publisher, image_root=Path("images"))
    paths = [f"{i}.jpg" for i in range(10)] + ["bad.jpg"] + [f"{i}.jpg" for i in range(10, 20)]

    async def post_all():
        return await asyncio.gather(*(batcher.post([path]) for path in paths), return_exceptions=True)

    try:
        outcomes = asyncio.run(post_all())
    finally:
        batcher.close()
    failed = [path for path, outcome in zip(paths, outcomes, strict=True) if isinstance(outcome, Exception)]
    assert failed == ["bad.jpg"]
    assert sorted(publisher.published) == list(range(1, 21))


def test_a_lone_bad_post_gets_its_own_error(monkeypatch):
    monkeypatch.setattr(ingest, "insert_images", _fake_insert("bad.jpg"))
    batcher = IngestBatcher(db=None, publisher=_Publisher(), image_root=Path("images"))
    try:
        with pytest.raises(ValueError, match="bad.jpg"):
            asyncio.run(batcher.post(["bad.jpg"]))
    finally:
        batcher.close()


def _posted_ids(paths: list[str], outcomes: list) -> dict[str, object]:
    return {path: outcome for path, outcome in zip(paths, outcomes, strict=True)}


def test_a_refused_path_among_good_ones_is_answered_alone(monkeypatch, tmp_path):
    monkeypatch.setattr(ingest, "insert_images", _fake_insert("never-posted"))
    root = tmp_path / "images"
    root.mkdir()
    (root / "escape.jpg").symlink_to(tmp_path / "elsewhere.jpg")  # a link that leads out of the root
    publisher = _Publisher()
    batcher = IngestBatcher(db=None, publisher=publisher, image_root=root)
    good = [f"sub/{i}.jpg" for i in range(20)]
    bad = ["../outside.jpg", "escape.jpg", "back\\slash.jpg"]
    paths = good[:10] + bad + good[10:]

    async def post_all():
        singles = await asyncio.gather(*(batcher.post_paths([path]) for path in paths))
        together = await batcher.post_paths(paths)  # one /images/post request
        return [one for [one] in singles], together

    try:
        singles, together = asyncio.run(post_all())
    finally:
        batcher.close()
    for outcomes in (singles, together):
        by_path = _posted_ids(paths, outcomes)
        assert all(isinstance(by_path[path], PathRejected) for path in bad)
        assert all(isinstance(by_path[path], Posted) for path in good)
    assert "symbolic link" in str(_posted_ids(paths, singles)["escape.jpg"])
    assert sorted(set(publisher.published)) == list(range(1, 21))  # the good paths only


def test_each_posted_image_is_logged_with_its_request_id(monkeypatch, tmp_path, caplog):
    monkeypatch.setattr(ingest, "insert_images", _fake_insert("never-posted"))
    batcher = IngestBatcher(db=None, publisher=_Publisher(), image_root=tmp_path)

    async def post(path: str, request_id: str):
        request_id_var.set(request_id)  # as the request-id middleware does, per request task
        [posted] = await batcher.post_paths([path])
        return posted

    async def post_all():
        return await asyncio.gather(*(post(f"{i}.jpg", f"req-{i}") for i in range(30)))

    caplog.set_level(logging.INFO, logger=ingest.__name__)
    try:
        posted = asyncio.run(post_all())
    finally:
        batcher.close()
    lines = [record for record in caplog.records if record.getMessage() == "images posted"]
    logged = [entry for record in lines for entry in record.images]
    assert sorted((e["image_id"], e["request_id"], e["new_record"]) for e in logged) == sorted(
        (one.image_id, f"req-{i}", True) for i, one in enumerate(posted)
    )
    assert len(lines) <= len(posted)  # one line per batch, never more than one per post


def test_a_path_that_breaks_the_check_fails_alone_with_its_cause(monkeypatch, tmp_path):
    monkeypatch.setattr(ingest, "insert_images", _fake_insert("never-posted"))
    checked = ingest.resolve_image_path

    def resolve(root, raw):
        if raw == "stale-mount.jpg":
            raise OSError(116, "Stale file handle")  # a failing volume, not a bad path
        return checked(root, raw)

    monkeypatch.setattr(ingest, "resolve_image_path", resolve)
    batcher = IngestBatcher(db=None, publisher=_Publisher(), image_root=tmp_path)
    paths = ["a.jpg", "stale-mount.jpg", "b.jpg"]

    async def post_all():
        return await asyncio.gather(*(batcher.post_paths([path]) for path in paths), return_exceptions=True)

    try:
        first, broken, last = asyncio.run(post_all())
    finally:
        batcher.close()
    assert isinstance(broken, OSError) and "Stale file handle" in str(broken)  # its request: a 500
    assert isinstance(first[0], Posted) and isinstance(last[0], Posted)
