"""The outcome stream: what the processor publishes on NSQ after it commits an image's outcome.

One home for the message format (`OutcomeEvent.encode`/`decode`, with a version field) and for
publishing it. The row in MySQL is the truth; a message is a hint that it changed, so a failed
publish is logged and never undoes or fails the outcome.
"""

from __future__ import annotations

import json
import logging
from dataclasses import asdict, dataclass
from typing import Any

import httpx
from prometheus_client import Counter

from kubeface.images.status import FINAL_STATUSES

log = logging.getLogger(__name__)

# Bump only for an incompatible change; readers skip versions they do not know.
FORMAT_VERSION = 1

PUBLISH_FAILURES = Counter("outcome_publish_errors_total", "Outcome messages nsqd did not accept")


@dataclass(frozen=True)
class OutcomeEvent:
    """One committed outcome: small, so that every subscriber can afford every message."""

    image_id: int
    status: str
    person_id: int | None = None
    person: str | None = None
    detail: str | None = None
    finished_at: str | None = None  # ISO 8601, as the row says

    def encode(self) -> bytes:
        return json.dumps({"v": FORMAT_VERSION, **asdict(self)}, separators=(",", ":")).encode()

    @classmethod
    def decode(cls, body: bytes) -> OutcomeEvent | None:
        """The event, or None for a body that is not one this version understands."""
        try:
            value = json.loads(body)
        except (UnicodeDecodeError, ValueError):
            return None
        if not isinstance(value, dict) or value.get("v") != FORMAT_VERSION:
            return None
        image_id, status = value.get("image_id"), value.get("status")
        if isinstance(image_id, bool) or not isinstance(image_id, int) or image_id <= 0:
            return None
        if status not in FINAL_STATUSES:
            return None
        person_id = value.get("person_id")
        return cls(
            image_id=image_id,
            status=status,
            person_id=person_id if isinstance(person_id, int) and not isinstance(person_id, bool) else None,
            person=_text(value.get("person")),
            detail=_text(value.get("detail")),
            finished_at=_text(value.get("finished_at")),
        )

    def as_json(self) -> dict[str, Any]:
        """The event as clients see it (SSE data, the frontend's live updates)."""
        return asdict(self)


def _text(value: object) -> str | None:
    return value if isinstance(value, str) else None


class OutcomePublisher:
    """Publishes outcome events to the local nsqd's HTTP API; never raises."""

    def __init__(self, nsqd_http_address: str, topic: str, timeout_seconds: float = 2.0) -> None:
        self._topic = topic
        self._client = httpx.Client(base_url=f"http://{nsqd_http_address}", timeout=timeout_seconds)

    def publish(self, event: OutcomeEvent) -> None:
        try:
            response = self._client.post("/pub", params={"topic": self._topic}, content=event.encode())
            response.raise_for_status()
        except httpx.HTTPError as exc:
            # The outcome is committed; waiters still get it from their final read, pages on reload.
            PUBLISH_FAILURES.inc()
            log.warning(
                "outcome not published: %s", exc, extra={"image_id": event.image_id, "topic": self._topic}
            )

    def ensure_topic(self) -> None:
        """Create the topic, so that subscribers find it through nsqlookupd before the first outcome."""
        try:
            self._client.post("/topic/create", params={"topic": self._topic}).raise_for_status()
        except httpx.HTTPError as exc:
            log.warning("could not create topic %r yet: %s", self._topic, exc)

    def close(self) -> None:
        self._client.close()
