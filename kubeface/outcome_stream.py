"""Fan-out of the outcome stream to this process's clients: waiters and Server-Sent Events.

One NSQ subscription per replica (an ephemeral channel of its own, so every replica sees every
outcome and nsqd keeps nothing for a replica that is gone) feeds an `OutcomeHub`; each client
holds a `Subscription` with a bounded buffer. Everything runs on the event loop's thread.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager

import nsq  # type: ignore[import-untyped,unused-ignore]  # pynsq ships no type information
from prometheus_client import Counter, Gauge

from kubeface.outcomes import OutcomeEvent, OutcomePublisher
from kubeface.settings import Settings

log = logging.getLogger(__name__)

SUBSCRIBERS = Gauge(
    "outcome_subscribers",
    "Clients waiting for or streaming outcomes",
    multiprocess_mode="livesum",  # several receiver processes: their clients together
)
DROPPED = Counter("outcome_subscribers_dropped_total", "Clients dropped for falling behind")
RECEIVED = Counter("outcome_events_received_total", "Outcome messages read from NSQ")


class HubFull(Exception):
    """Too many clients subscribed already; the caller answers 503 with Retry-After."""


class SubscriptionClosed(Exception):
    """The subscription ended: the client fell behind, or the process is shutting down."""


class Subscription:
    """One client's view of the stream: outcomes of `ids` (None: all), at most `buffer` pending."""

    def __init__(self, ids: frozenset[int] | None, buffer: int) -> None:
        self.ids = ids
        self._buffer = buffer
        self._pending: deque[OutcomeEvent] = deque()
        self._wake = asyncio.Event()
        self.closed_because: str | None = None

    def offer(self, event: OutcomeEvent) -> None:
        if self.closed_because is not None:
            return
        if len(self._pending) >= self._buffer:
            DROPPED.inc()
            self.close("the client fell behind the stream")
            return
        self._pending.append(event)
        self._wake.set()

    def close(self, reason: str) -> None:
        self.closed_because = reason
        self._wake.set()

    async def next(self, timeout: float) -> OutcomeEvent | None:
        """The next event, or None after `timeout` seconds without one.

        Raises SubscriptionClosed once closed, even with events still buffered: a dropped
        client must reconnect and re-read, and shutdown must not wait on slow readers.
        """
        if not self._pending and self.closed_because is None:
            try:
                await asyncio.wait_for(self._wake.wait(), timeout)
            except TimeoutError:
                pass
        self._wake.clear()
        if self.closed_because is not None:
            raise SubscriptionClosed(self.closed_because)
        return self._pending.popleft() if self._pending else None


class OutcomeHub:
    """Hands each outcome to the subscriptions that asked for its image id (or for all)."""

    def __init__(self, max_subscribers: int, buffer: int) -> None:
        self._max = max_subscribers
        self._buffer = buffer
        self._all: set[Subscription] = set()
        self._by_id: dict[int, set[Subscription]] = {}
        self._count = 0
        self._closed = False
        self._listeners: list[Callable[[OutcomeEvent], None]] = []

    def add_listener(self, listener: Callable[[OutcomeEvent], None]) -> None:
        """A function called with every event (the frontend's counts); must not raise."""
        self._listeners.append(listener)

    @contextmanager
    def subscribe(self, ids: Iterable[int] | None = None) -> Iterator[Subscription]:
        if self._closed:
            raise SubscriptionClosed("the server is shutting down")
        if self._count >= self._max:
            raise HubFull(f"{self._max} clients are waiting or streaming already")
        subscription = Subscription(None if ids is None else frozenset(ids), self._buffer)
        self._add(subscription)
        try:
            yield subscription
        finally:
            self._remove(subscription)

    def publish(self, event: OutcomeEvent) -> None:
        for listener in self._listeners:
            listener(event)
        for subscription in [*self._all, *self._by_id.get(event.image_id, ())]:
            subscription.offer(event)

    def close(self) -> None:
        """Shutdown: every subscription ends now (waiters answer with the current state)."""
        self._closed = True
        for subscription in [*self._all, *(s for subs in self._by_id.values() for s in subs)]:
            subscription.close("the server is shutting down")

    def _add(self, subscription: Subscription) -> None:
        self._count += 1
        SUBSCRIBERS.inc()
        if subscription.ids is None:
            self._all.add(subscription)
        for image_id in subscription.ids or ():
            self._by_id.setdefault(image_id, set()).add(subscription)

    def _remove(self, subscription: Subscription) -> None:
        self._count -= 1
        SUBSCRIBERS.dec()
        self._all.discard(subscription)
        for image_id in subscription.ids or ():
            subs = self._by_id.get(image_id)
            if subs is not None:
                subs.discard(subscription)
                if not subs:
                    del self._by_id[image_id]


def ephemeral_channel(service: str) -> str:
    """This process's own channel: gone from nsqd when it disconnects.

    Host and pid: two processes on one channel would share its messages, each seeing only some.
    """
    host = "".join(c if c.isalnum() or c in "-_." else "-" for c in socket.gethostname())[:32]
    return f"{service}-{host}-{os.getpid()}#ephemeral"


def start_outcome_reader(
    hub: OutcomeHub, topic: str, channel: str, lookupd_http_addresses: list[str]
) -> nsq.Reader:
    """Feed `hub` from NSQ; call on the running event loop. Close the returned reader at shutdown."""

    def on_message(message: nsq.Message) -> bool:
        RECEIVED.inc()
        event = OutcomeEvent.decode(message.body)
        if event is None:
            log.warning("outcome message not understood; skipped", extra={"body": message.body[:100]})
        else:
            hub.publish(event)
        return True  # finished: the row in MySQL is the truth, a lost hint is re-read later

    return nsq.Reader(
        topic=topic,
        channel=channel,
        message_handler=on_message,
        lookupd_http_addresses=lookupd_http_addresses,
        lookupd_poll_interval=5,
        max_in_flight=100,
        output_buffer_timeout=25,  # nsqd's smallest: a waiter should hear at once
    )


async def read_outcomes(settings: Settings, hub: OutcomeHub, service: str) -> nsq.Reader:
    """Subscribe this replica of `service` to the outcome stream, feeding `hub`.

    The topic is created first, so that nsqlookupd knows it before the first outcome.
    """
    topic = OutcomePublisher(settings.nsqd_http_address, settings.nsq_outcomes_topic)
    await asyncio.to_thread(topic.ensure_topic)
    topic.close()
    return start_outcome_reader(
        hub, settings.nsq_outcomes_topic, ephemeral_channel(service), settings.nsqlookupd_http_addresses
    )
