"""Group commit for posted paths: concurrent posts share one transaction and one MPUB.

A post waits on a future that is settled only after its row is committed in MySQL and nsqd
has accepted its id, so a 202 still means both. Batches form by themselves: a committer
takes whatever has queued up while it was busy, so a lone post waits for nothing.

Clients' paths are checked in the committer thread too, a batch at a time: realpath may touch
the disk, so it stays off the event loop, without a thread-pool hop per post. The committer
logs one line per batch with its image ids, not one per post.
"""

from __future__ import annotations

import asyncio
import logging
import os
import queue
import threading
from collections import defaultdict
from dataclasses import dataclass, replace
from pathlib import Path

import pymysql
from prometheus_client import Histogram

from kubeface.audit import AuditEntry
from kubeface.db import RETRYABLE_ERRORS, Database
from kubeface.images import ImageStatus, Posted, insert_images
from kubeface.logs import request_id_var
from kubeface.paths import PathRejected, resolve_image_path
from kubeface.queue import ImageMessage, NsqPublisher, PublishError

log = logging.getLogger(__name__)

BATCH_ROWS = Histogram(
    "receiver_ingest_batch_rows", "Posts committed together", buckets=(1, 2, 4, 8, 16, 32, 64, 128, 256, 512)
)
_ATTEMPTS = 3
# Failures of the servers a batch shares, not of any one post: retrying posts alone cannot help.
_SHARED_FAILURES = (pymysql.err.OperationalError, pymysql.err.InterfaceError, PublishError)


@dataclass(frozen=True)
class _Post:
    path: str  # relative to the image root; the client's own text while `unchecked`
    request_id: str | None
    future: asyncio.Future
    # Recorded in the batch's transaction if this post creates its row (each post its own actor).
    audit: AuditEntry | None = None
    unchecked: bool = False


class IngestBatcher:
    """Commits posted paths in batches of at most `max_rows`, on `committers` threads.

    One committer is the default: posts that queue while it commits make the next batch, and
    fewer, larger batches cost less per post (bench/ingest.py: about 15% more posts per second
    than with two).
    """

    def __init__(
        self,
        db: Database,
        publisher: NsqPublisher,
        *,
        image_root: Path,
        max_rows: int = 256,
        committers: int = 1,
        crash_after_commit: bool = False,
    ) -> None:
        self._db = db
        self._crash_after_commit = crash_after_commit
        self._publisher = publisher
        self._image_root = image_root  # where post_paths() resolves clients' paths
        self._max_rows = max_rows
        self._queue: queue.SimpleQueue[_Post | None] = queue.SimpleQueue()
        self._threads = [
            threading.Thread(target=self._run, name=f"ingest-{i}", daemon=True) for i in range(committers)
        ]
        for thread in self._threads:
            thread.start()

    async def post(
        self, relative_paths: list[str], audits: list[AuditEntry | None] | None = None
    ) -> list[Posted]:
        """Commit and publish paths (already checked); raises the batch's error (PublishError, MySQL).
        `audits[i]` is recorded in the transaction that creates path i's row."""
        entries = audits if audits is not None else [None] * len(relative_paths)
        futures = self._enqueue(relative_paths, entries, unchecked=False)
        if len(futures) == 1:  # the common case, without gather's bookkeeping
            return [await futures[0]]
        return list(await asyncio.gather(*futures))

    async def post_paths(self, raw_paths: list[str]) -> list[Posted | PathRejected]:
        """Check clients' paths against the image root, then commit and publish the good ones.

        A refused path's item is its PathRejected (the others are unaffected); raises the
        batch's error (PublishError, MySQL) like post()."""
        futures = self._enqueue(raw_paths, [None] * len(raw_paths), unchecked=True)
        if len(futures) == 1:
            try:
                return [await futures[0]]
            except PathRejected as exc:
                return [exc]
        outcomes = await asyncio.gather(*futures, return_exceptions=True)
        for outcome in outcomes:
            if isinstance(outcome, BaseException) and not isinstance(outcome, PathRejected):
                raise outcome
        return outcomes  # type: ignore[return-value]  # only Posted and PathRejected are left

    def _enqueue(
        self, paths: list[str], audits: list[AuditEntry | None], *, unchecked: bool
    ) -> list[asyncio.Future]:
        loop = asyncio.get_running_loop()
        request_id = request_id_var.get()
        posts = [
            _Post(path, request_id, loop.create_future(), audit, unchecked)
            for path, audit in zip(paths, audits, strict=True)
        ]
        for post in posts:
            self._queue.put(post)
        return [post.future for post in posts]

    def close(self) -> None:
        for _ in self._threads:
            self._queue.put(None)
        for thread in self._threads:
            thread.join(10)

    def _run(self) -> None:
        while True:
            first = self._queue.get()
            if first is None:
                return
            batch, stopping = [first], False
            while len(batch) < self._max_rows:
                try:
                    post = self._queue.get_nowait()
                except queue.Empty:
                    break
                if post is None:
                    stopping = True
                    break
                batch.append(post)
            # A cancelled post's client has gone: leave its path out. One cancelled after this
            # check is committed anyway, as the client may have been told nothing either way.
            batch = self._checked([post for post in batch if not post.future.cancelled()])
            if batch:
                self._commit(batch)
            if stopping:
                return

    def _checked(self, batch: list[_Post]) -> list[_Post]:
        """The batch with clients' paths placed under the image root; a refused one is answered now."""
        kept: list[_Post] = []
        refused: list[_Post] = []
        reasons: list[BaseException] = []
        for post in batch:
            if not post.unchecked:
                kept.append(post)
                continue
            try:
                relative = resolve_image_path(self._image_root, post.path).relative
            except Exception as exc:  # noqa: BLE001 - its own answer (422, or 500 with the cause), never the batch's
                refused.append(post)
                reasons.append(exc)
                continue
            kept.append(replace(post, path=relative, unchecked=False))
        if refused:
            _settle(refused, reasons)
        return kept

    def _commit(self, batch: list[_Post]) -> None:
        BATCH_ROWS.observe(len(batch))
        try:
            posted = self._insert([post.path for post in batch], [post.audit for post in batch])
            if self._crash_after_commit:
                # Fault injection (FAULT_CRASH_AFTER_COMMIT, tests only): die between the commit
                # and the publish, the window the retry job's stale-QUEUED pass exists for.
                log.critical("fault injection: exiting after commit, before publish")
                os._exit(70)
            messages, seen = [], set()
            for post, result in zip(batch, posted, strict=True):
                # A duplicate that is still queued is published again: harmless (claims are
                # atomic), and it recovers a post whose first publish never happened.
                if (result.created or result.status is ImageStatus.QUEUED) and result.image_id not in seen:
                    seen.add(result.image_id)
                    messages.append(ImageMessage(result.image_id, post.request_id))
            self._publisher.publish_messages(messages)
        except _SHARED_FAILURES as exc:  # MySQL or nsqd is down: every waiting request gets the cause
            _settle(batch, [exc] * len(batch))
            return
        except Exception as exc:  # noqa: BLE001 - settled below: alone, or each post on its own
            if len(batch) == 1:  # its request answers 500 and logs the traceback
                _settle(batch, [exc])
                return
            # One post's value broke the batch: commit each alone, so only that one fails.
            log.warning("ingest batch failed; committing its posts one by one: %r", exc)
            for post in batch:
                self._commit([post])
            return
        _log_posted(batch, posted)
        _settle(batch, posted)

    def _insert(self, paths: list[str], audits: list[AuditEntry | None]) -> list[Posted]:
        for attempt in range(1, _ATTEMPTS + 1):
            try:
                return insert_images(self._db, paths, audits)
            except pymysql.err.OperationalError as exc:
                if exc.args[0] not in RETRYABLE_ERRORS or attempt == _ATTEMPTS:
                    raise
                log.warning("ingest batch retried after MySQL error %s", exc.args[0])
        raise AssertionError("unreachable")


def _log_posted(batch: list[_Post], posted: list[Posted]) -> None:
    """One line per committed batch (a line per post cost ~9% of the receiver's CPU), with an
    entry per post: its image id, whether the row is new, and its request's id."""
    log.info(
        "images posted",
        extra={
            "posts": len(posted),
            "images": [
                {"image_id": one.image_id, "new_record": one.created, "request_id": post.request_id}
                for post, one in zip(batch, posted, strict=True)
            ],
        },
    )


def _settle(batch: list[_Post], outcomes: list) -> None:
    """Hand each post its outcome on its event loop: one wake-up per loop and batch, not per post."""
    by_loop: dict[asyncio.AbstractEventLoop, list[tuple[_Post, object]]] = defaultdict(list)
    for post, outcome in zip(batch, outcomes, strict=True):
        by_loop[post.future.get_loop()].append((post, outcome))
    for loop, settled in by_loop.items():
        try:
            loop.call_soon_threadsafe(_set_outcomes, settled)
        except RuntimeError:  # that loop has closed: nobody waits for these answers any more
            log.warning("ingest outcomes dropped: their event loop has closed", extra={"posts": len(settled)})


def _set_outcomes(settled: list[tuple[_Post, object]]) -> None:
    for post, outcome in settled:
        if post.future.done():  # cancelled meanwhile: the client has gone
            continue
        if isinstance(outcome, BaseException):
            post.future.set_exception(outcome)
        else:
            post.future.set_result(outcome)
