"""`kubeface cluster`: the one worker that places unknown faces into clusters.

It polls `face_encodings` for faces not yet placed (the processor queues them with the outcome,
kubeface/images/transitions.py `complete_image`), so it catches up after any downtime by itself.
It holds a MySQL advisory lock (GET_LOCK) while it works, so a second replica only waits: two
workers placing faces at once could each start a cluster for the same person.
"""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager

import pymysql
from prometheus_client import Counter, Gauge, start_http_server

from kubeface.clustering import FaceIndex, IncrementalClusterer
from kubeface.db import Database, connect
from kubeface.images.cluster_transitions import join_cluster, start_cluster
from kubeface.images.clusters import cluster_sizes, clusters_of, placed_faces, unplaced_faces
from kubeface.logs import configure_logging
from kubeface.settings import Settings, load_settings

log = logging.getLogger(__name__)

LOCK_WAIT_SECONDS = 5  # one GET_LOCK wait; below the connection's read timeout (kubeface/db.py)
SEED_PAGE = 20_000

FACES_PLACED = Counter("cluster_faces_placed_total", "Unknown faces placed", ["how"])
FACES_INDEXED = Gauge("cluster_faces_indexed", "Unknown faces in the worker's neighbour index")


class DbClusterStore:
    """The clusters as MySQL keeps them: an operator's removal is seen at the next face."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def clusters_of(self, face_ids: Sequence[int]) -> Mapping[int, int]:
        return clusters_of(self._db, face_ids)

    def sizes(self, cluster_ids: Iterable[int]) -> Mapping[int, int]:
        return cluster_sizes(self._db, cluster_ids)

    def start_cluster(self, face_id: int) -> int:
        return start_cluster(self._db, face_id)

    def join_cluster(self, face_id: int, cluster_id: int, absorbed: Sequence[int]) -> None:
        join_cluster(self._db, face_id, cluster_id, absorbed)


def seed(db: Database, clusterer: IncrementalClusterer) -> int:
    """Load every face already placed into the neighbour index; how many."""
    after, total = 0, 0
    while True:
        ids, encodings = placed_faces(db, after, SEED_PAGE)
        if not ids:
            return total
        clusterer.seed(ids, encodings)
        after, total = ids[-1], total + len(ids)


def place_waiting(db: Database, clusterer: IncrementalClusterer, batch: int) -> int:
    """Place up to `batch` waiting faces, oldest first; how many."""
    ids, encodings = unplaced_faces(db, batch)
    for face_id, encoding in zip(ids, encodings, strict=True):
        placement = clusterer.add(face_id, encoding)
        how = "new" if placement.created else "merged" if placement.absorbed else "joined"
        FACES_PLACED.labels(how).inc()
        log.info(
            "face placed",
            extra={
                "face_id": face_id,
                "cluster_id": placement.cluster_id,
                "how": how,
                "absorbed": placement.absorbed,
            },
        )
    FACES_INDEXED.inc(len(ids))
    return len(ids)


@contextmanager
def advisory_lock(settings: Settings, stop: threading.Event) -> Iterator[bool]:
    """Hold GET_LOCK for this database's clustering; yields False if `stop` came first.

    MySQL releases it with the connection, however this process ends."""
    name = f"kubeface_cluster.{settings.mysql_database}"[:64]
    conn = connect(settings)
    try:
        with conn.cursor() as cur:
            while not stop.is_set():
                cur.execute("SELECT GET_LOCK(%s, %s) AS got", (name, LOCK_WAIT_SECONDS))
                row = cur.fetchone()
                if row is not None and row["got"] == 1:
                    break
                log.info("another clustering worker holds the lock; waiting", extra={"lock": name})
        yield not stop.is_set()
    finally:
        conn.close()


def run(settings: Settings, stop: threading.Event) -> None:
    db = Database(settings)
    db.wait_until_reachable()
    try:
        with advisory_lock(settings, stop) as held:
            if not held:
                return
            clusterer = IncrementalClusterer(FaceIndex(settings.match_tolerance), DbClusterStore(db))
            seeded = seed(db, clusterer)
            FACES_INDEXED.set(seeded)
            log.info("clustering worker started", extra={"faces_seeded": seeded})
            while not stop.is_set():
                try:
                    placed = place_waiting(db, clusterer, settings.cluster_batch)
                except pymysql.err.OperationalError:
                    # The face stays unplaced (its write rolled back) and is tried again.
                    log.exception("placing faces failed; trying again")
                    placed = 0
                if placed < settings.cluster_batch:
                    stop.wait(settings.cluster_poll_seconds)
    finally:
        db.close()


def main() -> None:
    settings = load_settings()
    configure_logging("cluster", settings.log_level)
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    start_http_server(settings.cluster_metrics_port, addr=settings.bind_host)
    run(settings, stop)
