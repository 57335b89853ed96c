from __future__ import annotations

from kubeface.nsq_stats import waiting_messages

STATS = {
    "topics": [
        {
            "topic_name": "images",
            "depth": 3,
            "channels": [{"channel_name": "processor", "depth": 10, "deferred_count": 4}],
        },
        {"topic_name": "other", "depth": 100, "channels": []},
    ]
}


def test_waiting_counts_the_topic_its_channels_and_deferred_messages():
    assert waiting_messages(STATS, "images") == 17


def test_an_unknown_topic_has_nothing_waiting():
    assert waiting_messages(STATS, "missing") == 0
    assert waiting_messages({}, "images") == 0


def test_stats_wrapped_in_data_as_older_nsqd_answers():
    assert waiting_messages({"data": STATS}, "images") == 17
