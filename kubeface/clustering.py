"""Grouping unknown faces into clusters of one unknown person, one face at a time.

A new face joins the cluster of its nearest placed faces within the tolerance, or starts a cluster
of its own; when it lies within the tolerance of faces of several clusters, it connects them and
they merge. The neighbours come from an HNSW graph (faiss), so placing a face costs about
log(faces), not a scan of every unknown face. A merge is union by size: the smaller clusters'
faces move into the largest, so a face moves at most log2(faces) times over its life.

Where each face lives is the store's business (`ClusterStore`): the worker's store is MySQL
(kubeface/cluster_worker.py), which also sees an operator's edits; the tests and the benchmark
use `MemoryClusterStore`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

import faiss
import numpy as np

from kubeface.encodings import ENCODING_DIM

# Neighbours asked of the graph per face: enough to see a few clusters around a face even when
# its own cluster is large. A cluster whose faces are all farther than the k-th is not merged.
NEIGHBOURS = 16
# HNSW links per node, and how wide its searches look (faiss' recall/speed trade-offs).
_HNSW_LINKS = 32
_HNSW_EF_SEARCH = 64
_HNSW_EF_CONSTRUCTION = 80


class FaceIndex:
    """Approximate nearest neighbours over placed faces' encodings, by face id."""

    def __init__(self, tolerance: float, neighbours: int = NEIGHBOURS) -> None:
        graph = faiss.IndexHNSWFlat(ENCODING_DIM, _HNSW_LINKS)
        graph.hnsw.efSearch = _HNSW_EF_SEARCH
        graph.hnsw.efConstruction = _HNSW_EF_CONSTRUCTION
        self._index = faiss.IndexIDMap(graph)
        self._squared_tolerance = tolerance * tolerance  # faiss answers squared L2 distances
        self._neighbours = neighbours

    def __len__(self) -> int:
        return int(self._index.ntotal)

    def add(self, face_ids: Sequence[int], encodings: np.ndarray) -> None:
        vectors = np.ascontiguousarray(encodings, dtype=np.float32).reshape(-1, ENCODING_DIM)
        self._index.add_with_ids(vectors, np.asarray(face_ids, dtype=np.int64))

    def within_tolerance(self, encoding: np.ndarray) -> list[int]:
        """Ids of placed faces within the tolerance of `encoding`, nearest first."""
        if len(self) == 0:
            return []
        query = np.ascontiguousarray(encoding, dtype=np.float32).reshape(1, ENCODING_DIM)
        distances, ids = self._index.search(query, min(self._neighbours, len(self)))
        return [
            int(face_id)
            for distance, face_id in zip(distances[0], ids[0], strict=True)
            if face_id >= 0 and distance <= self._squared_tolerance
        ]


class ClusterStore(Protocol):
    """Where each placed face's cluster is kept."""

    def clusters_of(self, face_ids: Sequence[int]) -> Mapping[int, int]:
        """face id -> cluster id, for those of `face_ids` still in a cluster."""
        ...

    def sizes(self, cluster_ids: Iterable[int]) -> Mapping[int, int]: ...

    def start_cluster(self, face_id: int) -> int:
        """A new cluster holding only `face_id`; its id."""
        ...

    def join_cluster(self, face_id: int, cluster_id: int, absorbed: Sequence[int]) -> None:
        """`face_id` joins `cluster_id`, and the faces of the `absorbed` clusters move into it."""
        ...


@dataclass(frozen=True)
class Placement:
    cluster_id: int
    created: bool  # a cluster of its own
    absorbed: tuple[int, ...] = ()  # clusters this face connected, merged into `cluster_id`


def plan_placement(
    neighbour_clusters: Iterable[int], sizes: Mapping[int, int]
) -> tuple[int, tuple[int, ...]] | None:
    """The cluster to join and those it absorbs, or None for a cluster of its own.

    Union by size: the largest cluster stays (on a tie, the oldest: the lowest id).
    """
    clusters = sorted(set(neighbour_clusters), key=lambda c: (-sizes.get(c, 0), c))
    if not clusters:
        return None
    return clusters[0], tuple(clusters[1:])


class IncrementalClusterer:
    """Places each new unknown face; `seed` re-loads faces already placed (at a restart)."""

    def __init__(self, index: FaceIndex, store: ClusterStore) -> None:
        self._index = index
        self._store = store

    def seed(self, face_ids: Sequence[int], encodings: np.ndarray) -> None:
        self._index.add(face_ids, encodings)

    def add(self, face_id: int, encoding: np.ndarray) -> Placement:
        neighbours = self._index.within_tolerance(encoding)
        # The store, not the graph, says where a neighbour is now: an operator may have removed it.
        clusters = self._store.clusters_of(neighbours) if neighbours else {}
        plan = plan_placement(clusters.values(), self._store.sizes(set(clusters.values())))
        if plan is None:
            placement = Placement(self._store.start_cluster(face_id), created=True)
        else:
            self._store.join_cluster(face_id, plan[0], plan[1])
            placement = Placement(plan[0], created=False, absorbed=plan[1])
        # After the store: a face whose write failed is not in the graph and is placed again later.
        self._index.add([face_id], encoding)
        return placement


class MemoryClusterStore:
    """A ClusterStore in memory, for tests and the benchmark."""

    def __init__(self) -> None:
        self.cluster_of: dict[int, int] = {}
        self.members: dict[int, set[int]] = {}
        self._next_id = 1

    def clusters_of(self, face_ids: Sequence[int]) -> Mapping[int, int]:
        return {f: self.cluster_of[f] for f in face_ids if f in self.cluster_of}

    def sizes(self, cluster_ids: Iterable[int]) -> Mapping[int, int]:
        return {c: len(self.members[c]) for c in cluster_ids}

    def start_cluster(self, face_id: int) -> int:
        cluster_id, self._next_id = self._next_id, self._next_id + 1
        self.members[cluster_id] = {face_id}
        self.cluster_of[face_id] = cluster_id
        return cluster_id

    def join_cluster(self, face_id: int, cluster_id: int, absorbed: Sequence[int]) -> None:
        for other in absorbed:
            for moved in self.members.pop(other):
                self.cluster_of[moved] = cluster_id
                self.members[cluster_id].add(moved)
        self.members[cluster_id].add(face_id)
        self.cluster_of[face_id] = cluster_id

    def remove_face(self, face_id: int) -> None:
        cluster_id = self.cluster_of.pop(face_id)
        self.members[cluster_id].discard(face_id)
