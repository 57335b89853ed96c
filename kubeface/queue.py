"""Publishing image ids on NSQ through nsqd's HTTP API: a 200 means nsqd has the message."""

from __future__ import annotations

import httpx

from kubeface.settings import Settings


class PublishError(RuntimeError):
    """nsqd did not take the message; the caller must not claim it was queued."""


class NsqPublisher:
    """Publishes to the local nsqd, as NSQ intends; consumers find it through nsqlookupd."""

    def __init__(self, settings: Settings, timeout_seconds: float = 5.0) -> None:
        self._topic = settings.nsq_topic
        self._client = httpx.Client(base_url=f"http://{settings.nsqd_http_address}", timeout=timeout_seconds)

    def publish(self, image_ids: list[int]) -> None:
        """Publish one message per id, all in one MPUB."""
        if not image_ids:
            return
        body = "\n".join(str(image_id) for image_id in image_ids).encode()
        try:
            response = self._client.post("/mpub", params={"topic": self._topic}, content=body)
        except httpx.HTTPError as exc:
            raise PublishError(f"nsqd at {self._client.base_url} is unreachable: {exc}") from exc
        if response.status_code != 200:
            raise PublishError(
                f"nsqd refused the publish: HTTP {response.status_code} {response.text.strip()}"
            )

    def ensure_topic(self) -> None:
        """Create the topic so that consumers can find it before the first post."""
        try:
            self._client.post("/topic/create", params={"topic": self._topic}).raise_for_status()
        except httpx.HTTPError as exc:
            raise PublishError(f"could not create topic {self._topic!r} on nsqd: {exc}") from exc

    def close(self) -> None:
        self._client.close()
