"""The operator's re-queue routes against an in-memory image table: what is won is published."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import numpy as np
import pytest
from fastapi import FastAPI

from kubeface.images import ImageStatus
from kubeface.people import EnrolledImage, Enrolment
from receiver import admin_routes, people_routes
from receiver.errors import install_error_handlers
from receiver.state import ReceiverState


@dataclass
class FakeImages:
    """The images table as {id: status}; each re-queue flips what it wins, as the UPDATE does."""

    rows: dict[int, ImageStatus]
    enrolled_after: set[int] = field(default_factory=set)  # PENDING ids finished before an enrolment

    def _move(self, ids: list[int]) -> list[int]:
        for image_id in ids:
            self.rows[image_id] = ImageStatus.QUEUED
        return ids

    def requeue_final_image(self, image_id: int) -> list[int]:
        status = self.rows.get(image_id)
        return self._move([image_id] if status is not None and status.is_final else [])

    def requeue_with_status(self, status: ImageStatus, limit: int) -> list[int]:
        return self._move(sorted(i for i, s in self.rows.items() if s == status)[:limit])

    def requeue_pending_after_enrolment(self, limit: int) -> list[int]:
        due = sorted(i for i in self.enrolled_after if self.rows[i] == ImageStatus.PENDING)
        return self._move(due[:limit])

    def count_with_status(self, status: ImageStatus) -> int:
        return sum(1 for s in self.rows.values() if s == status)

    def get_image(self, image_id: int) -> dict[str, object] | None:
        status = self.rows.get(image_id)
        return None if status is None else {"id": image_id, "status": status.value, "faces": []}


class FakePublisher:
    def __init__(self) -> None:
        self.published: list[int] = []

    def publish(self, image_ids: list[int]) -> None:
        self.published.extend(image_ids)


@pytest.fixture
def images(monkeypatch: pytest.MonkeyPatch) -> FakeImages:
    S = ImageStatus
    fake = FakeImages({1: S.FAILED, 2: S.FAILED, 3: S.PENDING, 4: S.QUEUED})
    # The routes pass state.db to the named transitions; here state.db is the fake table.
    monkeypatch.setattr(
        admin_routes, "requeue_final_image", lambda db, i, audit=None: db.requeue_final_image(i)
    )
    monkeypatch.setattr(
        admin_routes,
        "requeue_with_status",
        lambda db, s, *, limit, audit=None: db.requeue_with_status(s, limit),
    )
    monkeypatch.setattr(admin_routes, "count_with_status", lambda db, s: db.count_with_status(s))
    monkeypatch.setattr(admin_routes, "get_image", lambda db, i: db.get_image(i))
    monkeypatch.setattr(
        people_routes,
        "requeue_pending_after_enrolment",
        lambda db, *, limit, audit=None: db.requeue_pending_after_enrolment(limit),
    )
    return fake


@pytest.fixture
def state(images: FakeImages) -> ReceiverState:
    return ReceiverState(
        db=images,  # type: ignore[arg-type]
        publisher=FakePublisher(),  # type: ignore[arg-type]
        recognizer=None,  # type: ignore[arg-type]
        image_root=Path("/nonexistent"),
        max_batch=10,
        ingest=None,  # type: ignore[arg-type]
        uploads=None,  # type: ignore[arg-type]
    )


class Client:
    """Requests straight into the ASGI app, no server and no network."""

    def __init__(self, app: FastAPI) -> None:
        self._app = app

    def post(self, path: str, json: object = None) -> httpx.Response:
        async def send() -> httpx.Response:
            transport = httpx.ASGITransport(app=self._app)
            async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
                return await client.post(path, json=json)

        return asyncio.run(send())


@pytest.fixture
def client(state: ReceiverState) -> Client:
    app = FastAPI()
    install_error_handlers(app)
    app.include_router(admin_routes.router)
    app.state.receiver = state
    return Client(app)


def published(state: ReceiverState) -> list[int]:
    return state.publisher.published  # type: ignore[attr-defined,no-any-return]


def test_requeue_one_final_image_publishes_it(client: Client, state: ReceiverState) -> None:
    response = client.post("/image/1/requeue")
    assert response.status_code == 202
    assert response.json() == {"id": 1, "status": "QUEUED"}
    assert published(state) == [1]


def test_requeue_one_image_twice_publishes_it_once(client: Client, state: ReceiverState) -> None:
    assert client.post("/image/1/requeue").status_code == 202
    again = client.post("/image/1/requeue")
    assert again.status_code == 409
    assert "wait for it to finish" in again.json()["error"]
    assert published(state) == [1]


def test_requeue_unknown_image_is_404_and_publishes_nothing(client: Client, state: ReceiverState) -> None:
    response = client.post("/image/99/requeue")
    assert response.status_code == 404
    assert "no image with id 99" in response.json()["error"]
    assert published(state) == []


def test_requeue_by_status_publishes_what_it_won_and_says_what_remains(
    client: Client, state: ReceiverState
) -> None:
    response = client.post("/images/requeue", json={"status": "FAILED", "limit": 1})
    assert response.status_code == 202
    assert response.json() == {"status": "FAILED", "requeued": [1], "count": 1, "remaining": 1}
    assert published(state) == [1]


def test_requeue_by_status_with_nothing_to_win_publishes_nothing(
    client: Client, state: ReceiverState, images: FakeImages
) -> None:
    images.rows = {4: ImageStatus.QUEUED}
    response = client.post("/images/requeue", json={"status": "PENDING"})
    assert response.status_code == 202
    assert response.json()["count"] == 0
    assert published(state) == []


@pytest.mark.parametrize("status", ["QUEUED", "PROCESSED", "failed", "DONE"])
def test_requeue_by_a_status_that_cannot_be_requeued_is_422(
    client: Client, state: ReceiverState, status: str
) -> None:
    response = client.post("/images/requeue", json={"status": status})
    assert response.status_code == 422
    assert response.json()["problems"][0]["field"] == "status"
    assert published(state) == []


def test_requeue_by_status_with_a_bad_limit_is_422(client: Client, state: ReceiverState) -> None:
    response = client.post("/images/requeue", json={"status": "FAILED", "limit": 0})
    assert response.status_code == 422
    assert response.json()["problems"][0]["field"] == "limit"
    assert published(state) == []


def _enrolment() -> tuple[Enrolment, list[EnrolledImage]]:
    return Enrolment(person_id=7, name="ada", person_image_ids=[70]), [EnrolledImage("a.jpg", np.zeros(128))]


def test_enrolment_publishes_the_pending_images_it_won(state: ReceiverState, images: FakeImages) -> None:
    images.enrolled_after = {3}
    enrolment, photos = _enrolment()
    answer = people_routes.enrolled(state, enrolment, photos, created=True, actor="api-token")
    assert answer["requeued"] == 1
    assert published(state) == [3]
    assert images.rows[3] == ImageStatus.QUEUED


def test_enrolment_with_nothing_pending_publishes_nothing(state: ReceiverState, images: FakeImages) -> None:
    enrolment, photos = _enrolment()
    answer = people_routes.enrolled(state, enrolment, photos, created=False, actor="api-token")
    assert answer["requeued"] == 0
    assert published(state) == []
