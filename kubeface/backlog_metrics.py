"""Gauges of the whole pipeline's backlog, read at scrape time: rows by status and NSQ depth.

Exported by the frontend (its database account reads everything), so alerts on stuck rows and
a growing queue need no extra exporter.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pymysql
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from kubeface.db import Database
from kubeface.images import ImageStatus, oldest_waiting_ages, status_counts
from kubeface.settings import Settings
from kubeface.system import Unreadable, queue_depth

log = logging.getLogger(__name__)


class BacklogCollector(Collector):
    def __init__(self, db: Database, settings: Settings) -> None:
        self._db = db
        self._stats_url = f"http://{settings.nsqd_http_address}/stats"
        self._topic = settings.nsq_topic

    def describe(self) -> Iterator[GaugeMetricFamily]:
        # Lets the registry learn the names without querying MySQL and nsqd at registration.
        yield GaugeMetricFamily("kubeface_images", "Image rows by status", labels=["status"])
        yield GaugeMetricFamily("kubeface_oldest_image_age_seconds", "", labels=["status"])
        yield GaugeMetricFamily("kubeface_queue_depth", "Messages waiting for a processor")

    def collect(self) -> Iterator[GaugeMetricFamily]:
        images = GaugeMetricFamily("kubeface_images", "Image rows by status", labels=["status"])
        oldest = GaugeMetricFamily(
            "kubeface_oldest_image_age_seconds", "Oldest QUEUED or PROCESSING row's age", labels=["status"]
        )
        try:
            counts, ages = self._read_database()
        except pymysql.err.Error as exc:
            log.warning("backlog metrics: database unreachable: %s", exc)
        else:
            for status in ImageStatus:
                images.add_metric([status.value], counts.get(status.value, 0))
            for waiting, age in ages.items():
                oldest.add_metric([waiting], age)
            yield images
            yield oldest
        depth = self._queue_depth()
        if depth is not None:
            yield GaugeMetricFamily("kubeface_queue_depth", "Messages waiting for a processor", value=depth)

    def _read_database(self) -> tuple[dict[str, int], dict[str, float]]:
        return status_counts(self._db), oldest_waiting_ages(self._db)

    def _queue_depth(self) -> float | None:
        # The standard library's GET (kubeface/system.py): httpx.get built a client, and with it an
        # SSL context, on every scrape, ~20 ms of each /metrics answer.
        try:
            return float(queue_depth(self._stats_url, self._topic, timeout=2))
        except Unreadable as exc:
            log.warning("backlog metrics: nsqd stats unreachable: %s", exc)
            return None
