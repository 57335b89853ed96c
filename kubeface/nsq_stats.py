"""Reading nsqd's /stats: how many messages of a topic wait.

Apart from kubeface.queue (publishing, with httpx) so that `kubeface status` reads queue depth
without importing an HTTP client library (issue 15).
"""

from __future__ import annotations

from typing import Any


def waiting_messages(stats: dict[str, Any], topic: str) -> int:
    """Messages of `topic` not yet finished, from nsqd's /stats?format=json.

    The topic's own depth (not yet copied to a channel) plus each channel's ready and deferred
    messages (deferred: requeued with a delay, say while the breaker is open).
    """
    # nsqd 1.x answers at the top level; older versions wrapped the stats in "data".
    topics = stats.get("topics") or stats.get("data", {}).get("topics") or []
    depth = 0
    for found in topics:
        if found.get("topic_name") == topic:
            depth += found.get("depth", 0)
            depth += sum(c.get("depth", 0) + c.get("deferred_count", 0) for c in found.get("channels", []))
    return depth
