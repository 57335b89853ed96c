"""The outcome message's format, and the hub that fans it out to waiters and streams."""

from __future__ import annotations

import asyncio
import json
import os

import pytest

from kubeface.outcome_stream import HubFull, OutcomeHub, SubscriptionClosed
from kubeface.outcomes import FORMAT_VERSION, OutcomeEvent
from kubeface.sse import BadIds, parse_ids

EVENT = OutcomeEvent(7, "PROCESSED", person_id=3, person="obama", finished_at="2026-01-01T00:00:00+00:00")


def test_an_event_survives_encoding_with_its_version():
    body = EVENT.encode()
    assert json.loads(body)["v"] == FORMAT_VERSION
    assert OutcomeEvent.decode(body) == EVENT


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"12",
        b"\xff",
        b'{"v": 2, "image_id": 1, "status": "PENDING"}',  # a future version: skipped, not misread
        b'{"v": 1, "image_id": "1", "status": "PENDING"}',
        b'{"v": 1, "image_id": true, "status": "PENDING"}',
        b'{"v": 1, "image_id": 1, "status": "QUEUED"}',  # not an outcome
    ],
)
def test_bodies_that_are_not_outcomes_are_refused(body):
    assert OutcomeEvent.decode(body) is None


def test_fields_of_the_wrong_type_are_dropped_not_passed_on():
    body = (
        b'{"v": 1, "image_id": 1, "status": "PENDING", "person": 5, "person_id": "x",'
        b' "detail": "no face found"}'
    )
    assert OutcomeEvent.decode(body) == OutcomeEvent(1, "PENDING", detail="no face found")


def test_ids_filter_is_parsed_and_bad_ones_say_what_to_send():
    assert parse_ids(None) is None
    assert parse_ids(" 1, 2,3 ") == [1, 2, 3]
    # 5,000 digits: past Python's int-conversion limit, which raised ValueError (a 500), not BadIds.
    for bad in ("1,x", "-1", "0", "²", "1" * 5000):
        with pytest.raises(BadIds, match="ids=1,2,3"):
            parse_ids(bad)


def test_a_subscriber_gets_only_the_ids_it_asked_for():
    async def scenario():
        hub = OutcomeHub(max_subscribers=10, buffer=10)
        with hub.subscribe([7]) as mine, hub.subscribe() as everything:
            hub.publish(OutcomeEvent(8, "PENDING"))
            hub.publish(EVENT)
            assert await mine.next(0.01) == EVENT
            assert await mine.next(0.01) is None
            assert [await everything.next(0.01), await everything.next(0.01)] == [
                OutcomeEvent(8, "PENDING"),
                EVENT,
            ]

    asyncio.run(scenario())


def test_a_slow_subscriber_is_dropped_and_the_others_keep_theirs():
    async def scenario():
        hub = OutcomeHub(max_subscribers=10, buffer=2)
        with hub.subscribe() as slow, hub.subscribe([7]) as other:
            for image_id in (1, 2, 3, 7):
                hub.publish(OutcomeEvent(image_id, "PENDING"))
            with pytest.raises(SubscriptionClosed, match="fell behind"):
                await slow.next(0.01)
            assert (await other.next(0.01)).image_id == 7

    asyncio.run(scenario())


def test_subscribers_over_the_limit_are_refused_and_leaving_frees_a_place():
    async def scenario():
        hub = OutcomeHub(max_subscribers=1, buffer=2)
        with hub.subscribe([1]):
            with pytest.raises(HubFull), hub.subscribe([2]):
                pass
        with hub.subscribe([2]):
            pass

    asyncio.run(scenario())


def test_closing_the_hub_wakes_every_waiter():
    async def scenario():
        hub = OutcomeHub(max_subscribers=10, buffer=2)
        with hub.subscribe([1]) as waiter:
            asyncio.get_running_loop().call_later(0.01, hub.close)
            with pytest.raises(SubscriptionClosed, match="shutting down"):
                await waiter.next(60)
        with pytest.raises(SubscriptionClosed), hub.subscribe([1]):
            pass

    asyncio.run(scenario())


def _table_with_announcements():
    from dataclasses import replace

    from tests.unit.test_handle_image import Table

    table, announced = Table(), []
    rows = replace(table.rows_api(), announce=lambda *outcome: announced.append(outcome))
    return table, rows, announced


def test_the_outcome_is_announced_once_after_it_is_committed():
    from kubeface.images import ImageStatus
    from kubeface.proto import recognizer_pb2 as pb
    from processor.handler import NO_FACE, handle_image
    from tests.unit.test_handle_image import CONFIG, DB, Recognizer

    table, rows, announced = _table_with_announcements()
    image_id = table.add()
    handle_image(image_id, DB, Recognizer(pb.IdentifyResponse()), CONFIG, rows)
    assert table.rows[image_id].status is ImageStatus.PENDING
    assert announced == [(image_id, ImageStatus.PENDING, None, NO_FACE)]


def test_a_lost_claim_announces_nothing():
    from kubeface.proto import recognizer_pb2 as pb
    from processor.handler import handle_image
    from tests.unit.test_handle_image import CONFIG, DB, Recognizer

    table, rows, announced = _table_with_announcements()
    table.steal_before_complete = True
    handle_image(table.add(), DB, Recognizer(pb.IdentifyResponse()), CONFIG, rows)
    assert announced == []


def test_a_publish_nsqd_refuses_is_logged_not_raised(caplog):
    import socket

    from kubeface.outcomes import OutcomePublisher

    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    publisher = OutcomePublisher(f"127.0.0.1:{port}", "outcomes", timeout_seconds=1)
    publisher.publish(EVENT)  # nothing listens there
    publisher.close()
    assert "outcome not published" in caplog.text


def test_each_process_reads_the_stream_on_a_channel_of_its_own():
    """Two replicas on one channel would split the messages between them (NSQ's channels)."""
    from kubeface.outcome_stream import ephemeral_channel

    channel = ephemeral_channel("frontend")
    assert channel.endswith("#ephemeral") and len(channel) <= 64  # nsqd's limit on channel names
    assert channel != ephemeral_channel("receiver")
    assert str(os.getpid()) in channel
