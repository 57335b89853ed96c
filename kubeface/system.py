"""What the services say about themselves: breaker, queue depth, throughput and errors.

Read by the frontend's system panel and `kubeface status`. Every source is optional: a service
that does not answer is reported as unreachable instead of failing the whole snapshot.
"""

from __future__ import annotations

import http.client
import json
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, TypeVar
from urllib.parse import urlencode, urlsplit

from kubeface.db import Database
from kubeface.images import recent_outcomes
from kubeface.metrics_text import MalformedMetrics, Sample, read_samples
from kubeface.nsq_stats import waiting_messages
from kubeface.settings import Settings

SCRAPE_TIMEOUT_SECONDS = 1.0
T = TypeVar("T")
RECENT_MINUTES = 5


@dataclass(frozen=True)
class Endpoints:
    processor_metrics: str
    recognizer_metrics: str
    nsqd_stats: str
    topic: str

    @classmethod
    def from_settings(cls, settings: Settings) -> Endpoints:
        return cls(
            processor_metrics=settings.processor_metrics_url
            or f"http://127.0.0.1:{settings.processor_metrics_port}/metrics",
            recognizer_metrics=settings.recognizer_metrics_url
            or f"http://127.0.0.1:{settings.recognizer_metrics_port}/metrics",
            nsqd_stats=f"http://{settings.nsqd_http_address}/stats",
            topic=settings.nsq_topic,
        )


@dataclass
class Snapshot:
    breaker: str = "unknown"  # "closed", "open" or "unknown" (processor unreachable)
    queue_depth: int | None = None  # messages waiting in nsqd for the topic and its channels
    in_flight: int | None = None
    outcomes: dict[str, float] = field(default_factory=dict)  # processor counters since its start
    known_faces: int | None = None
    recognizer_errors: dict[str, int] = field(default_factory=dict)  # "Identify NOT_FOUND": calls
    recent: dict[str, int] = field(default_factory=dict)  # rows finished in the last minutes
    problems: list[str] = field(default_factory=list)  # what could not be read, and why

    def as_dict(self) -> dict[str, Any]:
        return {
            "breaker": self.breaker,
            "queue_depth": self.queue_depth,
            "in_flight": self.in_flight,
            "outcomes": self.outcomes,
            "known_faces": self.known_faces,
            "recognizer_errors": self.recognizer_errors,
            f"finished_last_{RECENT_MINUTES}_minutes": self.recent,
            "problems": self.problems,
        }


class Unreadable(Exception):
    """A source did not answer, or not with a 200."""


def _get(url: str, params: dict[str, str] | None = None, timeout: float | None = None) -> str:
    """The body of a GET, with the standard library's client: `kubeface status` would otherwise
    import httpx (and rich, click...) for three local GETs, a third of its run (issue 15).
    `timeout` defaults to SCRAPE_TIMEOUT_SECONDS."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise Unreadable("not an http:// or https:// URL")
    connection_class = http.client.HTTPSConnection if parts.scheme == "https" else http.client.HTTPConnection
    query = "&".join(filter(None, [parts.query, urlencode(params or {})]))
    target = f"{parts.path or '/'}?{query}" if query else parts.path or "/"
    connection = connection_class(parts.hostname, parts.port, timeout=timeout or SCRAPE_TIMEOUT_SECONDS)
    try:
        connection.request("GET", target)
        response = connection.getresponse()
        body = response.read()
    except (OSError, http.client.HTTPException) as exc:
        raise Unreadable(str(exc) or type(exc).__name__) from exc
    finally:
        connection.close()
    if response.status != 200:
        raise Unreadable(f"HTTP {response.status} {response.reason}")
    return body.decode("utf-8", errors="replace")


def queue_depth(stats_url: str, topic: str, timeout: float | None = None) -> int:
    """Messages of `topic` waiting, read from nsqd's /stats; Unreadable when nsqd does not answer
    with its JSON. The one reader for the snapshot and the frontend's backlog gauge."""
    answer = _get(stats_url, {"format": "json", "topic": topic}, timeout)
    try:
        stats = json.loads(answer)
    except ValueError as exc:
        raise Unreadable(str(exc)) from exc
    return waiting_messages(stats, topic)


PROCESSOR_SAMPLES = frozenset({"processor_breaker_open", "processor_in_flight", "processor_messages_total"})
RECOGNIZER_SAMPLES = frozenset({"recognizer_known_faces", "recognizer_rpc_seconds_count"})


def _unreadable(problem: Exception, what: str, url: str, snap: Snapshot) -> None:
    snap.problems.append(f"{what} at {url} unreadable: {problem}")


def _samples(
    answer: str | Unreadable, names: frozenset[str], url: str, what: str, snap: Snapshot
) -> list[Sample] | None:
    if isinstance(answer, Unreadable):
        _unreadable(answer, f"{what} metrics", url, snap)
        return None
    try:
        return read_samples(answer, names)
    except MalformedMetrics as exc:
        _unreadable(exc, f"{what} metrics", url, snap)
        return None


def _scrape_processor(answer: str | Unreadable, url: str, snap: Snapshot) -> None:
    for sample in _samples(answer, PROCESSOR_SAMPLES, url, "processor", snap) or []:
        if sample.name == "processor_breaker_open":
            snap.breaker = "open" if sample.value >= 1 else "closed"
        elif sample.name == "processor_in_flight":
            snap.in_flight = int(sample.value)
        else:
            snap.outcomes[sample.labels.get("outcome", "?")] = sample.value


def _scrape_recognizer(answer: str | Unreadable, url: str, snap: Snapshot) -> None:
    for sample in _samples(answer, RECOGNIZER_SAMPLES, url, "recognizer", snap) or []:
        if sample.name == "recognizer_known_faces":
            snap.known_faces = int(sample.value)
            continue
        code = sample.labels.get("code", "OK")
        if code != "OK":
            key = f"{sample.labels.get('method', '?')} {code}"
            snap.recognizer_errors[key] = snap.recognizer_errors.get(key, 0) + int(sample.value)


def _scrape_nsqd(answer: int | Unreadable, url: str, snap: Snapshot) -> None:
    if isinstance(answer, Unreadable):
        _unreadable(answer, "nsqd stats", url, snap)
        return
    snap.queue_depth = answer


def _answer(future: Future[T]) -> T | Unreadable:
    """The answer, or why there is none; any other error is raised here, in the caller's thread."""
    try:
        return future.result()
    except Unreadable as exc:
        return exc


def take_snapshot(endpoints: Endpoints, db: Database | None = None) -> Snapshot:
    """Ask every source at once: each GET waits on its own timeout, not after the others' (a
    third of `kubeface status`'s run was the three GETs one after another, issue 15)."""
    snap = Snapshot()
    with ThreadPoolExecutor(max_workers=3, thread_name_prefix="snapshot") as pool:
        processor = pool.submit(_get, endpoints.processor_metrics)
        recognizer = pool.submit(_get, endpoints.recognizer_metrics)
        nsqd = pool.submit(queue_depth, endpoints.nsqd_stats, endpoints.topic)
        # The database is read in this thread meanwhile; its connection stays in this thread.
        if db is not None:
            snap.recent = recent_outcomes(db, RECENT_MINUTES)
        processor_page, recognizer_page, depth = _answer(processor), _answer(recognizer), _answer(nsqd)
    _scrape_processor(processor_page, endpoints.processor_metrics, snap)
    _scrape_recognizer(recognizer_page, endpoints.recognizer_metrics, snap)
    _scrape_nsqd(depth, endpoints.nsqd_stats, snap)
    return snap
