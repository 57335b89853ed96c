"""Publishing image ids on NSQ through nsqd's HTTP API: a 200 means nsqd has the message."""

from __future__ import annotations

import json
from dataclasses import dataclass

import httpx
from prometheus_client import Counter

from kubeface.logs import acceptable_request_id, request_id_var
from kubeface.settings import Settings

PUBLISHED = Counter("nsq_published_messages_total", "Image ids published on NSQ")
PUBLISH_ERRORS = Counter("nsq_publish_errors_total", "Publishes that nsqd did not accept")


# images.id is a BIGINT UNSIGNED; a larger number names no row.
MAX_IMAGE_ID = 2**64 - 1


@dataclass(frozen=True)
class ImageMessage:
    """What travels on the topic: the row's id and the request that queued it.

    The body is JSON, `{"id": 12, "request_id": "..."}`; a bare id ("12"), as the first
    version published, is still read, so publishers and consumers can roll in any order.
    """

    image_id: int
    request_id: str | None = None

    def encode(self) -> str:
        body: dict[str, int | str] = {"id": self.image_id}
        if self.request_id:
            body["request_id"] = self.request_id
        return json.dumps(body, separators=(",", ":"))

    @classmethod
    def decode(cls, body: bytes) -> ImageMessage | None:
        """The message, or None when the body names no image (a poison message).

        A request id that is not a plain one (kubeface.logs.acceptable_request_id) is dropped,
        not passed on: in gRPC metadata a control character fails the call on the client side,
        which would count against the recognizer. The image is still processed.
        """
        try:
            text = body.decode("utf-8").strip()
            value = json.loads(text)
        except (UnicodeDecodeError, ValueError):
            return None
        request_id = None
        if isinstance(value, dict):
            request_id = acceptable_request_id(value.get("request_id"))
            value = value.get("id")
        if isinstance(value, bool) or not isinstance(value, int) or not 0 < value <= MAX_IMAGE_ID:
            return None
        return cls(value, request_id)


class PublishError(RuntimeError):
    """nsqd did not take the message; the caller must not claim it was queued."""


class NsqPublisher:
    """Publishes to the local nsqd, as NSQ intends; consumers find it through nsqlookupd."""

    def __init__(self, settings: Settings, timeout_seconds: float = 5.0) -> None:
        self._topic = settings.nsq_topic
        self._client = httpx.Client(base_url=f"http://{settings.nsqd_http_address}", timeout=timeout_seconds)

    def publish(self, image_ids: list[int], request_id: str | None = None) -> None:
        """Publish one message per id, all in one MPUB; `request_id` defaults to the current one."""
        request_id = request_id or request_id_var.get()
        self.publish_messages([ImageMessage(image_id, request_id) for image_id in image_ids])

    def publish_messages(self, messages: list[ImageMessage]) -> None:
        """Publish these messages in one MPUB; returns only once nsqd has them all."""
        if not messages:
            return
        body = "\n".join(message.encode() for message in messages).encode()
        try:
            response = self._client.post("/mpub", params={"topic": self._topic}, content=body)
        except httpx.HTTPError as exc:
            PUBLISH_ERRORS.inc()
            raise PublishError(f"nsqd at {self._client.base_url} is unreachable: {exc}") from exc
        if response.status_code != 200:
            PUBLISH_ERRORS.inc()
            raise PublishError(
                f"nsqd refused the publish: HTTP {response.status_code} {response.text.strip()}"
            )
        PUBLISHED.inc(len(messages))

    def ensure_topic(self) -> None:
        """Create the topic so that consumers can find it before the first post."""
        try:
            self._client.post("/topic/create", params={"topic": self._topic}).raise_for_status()
        except httpx.HTTPError as exc:
            raise PublishError(f"could not create topic {self._topic!r} on nsqd: {exc}") from exc

    def close(self) -> None:
        self._client.close()
