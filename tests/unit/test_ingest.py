"""Group commit: a post whose value breaks the shared transaction fails alone."""

from __future__ import annotations

import asyncio

import pytest

from kubeface.images import ImageStatus, Posted
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
    batcher = IngestBatcher(db=None, publisher=publisher)
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
    batcher = IngestBatcher(db=None, publisher=_Publisher())
    try:
        with pytest.raises(ValueError, match="bad.jpg"):
            asyncio.run(batcher.post(["bad.jpg"]))
    finally:
        batcher.close()
