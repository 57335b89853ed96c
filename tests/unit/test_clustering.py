"""The incremental clusterer with fake encodings: join, a cluster of its own, merge by size."""

from __future__ import annotations

import numpy as np

from kubeface.clustering import FaceIndex, IncrementalClusterer, MemoryClusterStore, plan_placement

TOLERANCE = 0.6


def _point(axis: int, offset: float = 0.0) -> np.ndarray:
    """A fake encoding: 1.0 along `axis` (two axes are sqrt(2) apart), moved `offset` along axis 127."""
    vector = np.zeros(128)
    vector[axis] = 1.0
    vector[127] = offset
    return vector


def _clusterer() -> tuple[IncrementalClusterer, MemoryClusterStore]:
    store = MemoryClusterStore()
    return IncrementalClusterer(FaceIndex(TOLERANCE), store), store


def test_a_face_near_another_joins_its_cluster() -> None:
    clusterer, _ = _clusterer()
    first = clusterer.add(1, _point(0))
    second = clusterer.add(2, _point(0, 0.3))
    assert first.created and not second.created
    assert second.cluster_id == first.cluster_id


def test_a_face_far_from_every_other_starts_its_own_cluster() -> None:
    clusterer, _ = _clusterer()
    first = clusterer.add(1, _point(0))
    second = clusterer.add(2, _point(1))
    assert second.created and second.cluster_id != first.cluster_id


def test_a_face_that_connects_two_clusters_merges_them_into_the_larger() -> None:
    clusterer, store = _clusterer()
    # Two groups 0.8 apart (beyond the tolerance); a face halfway lies within 0.4 of both.
    small = clusterer.add(1, _point(0, 0.0)).cluster_id
    large = clusterer.add(2, _point(0, 0.8)).cluster_id
    clusterer.add(3, _point(0, 0.85))
    assert small != large
    bridge = clusterer.add(4, _point(0, 0.4))
    assert bridge.cluster_id == large and bridge.absorbed == (small,)
    assert {store.cluster_of[f] for f in (1, 2, 3, 4)} == {large}
    assert small not in store.members


def test_a_removed_face_no_longer_attracts_new_faces() -> None:
    clusterer, store = _clusterer()
    clusterer.add(1, _point(0))
    store.remove_face(1)
    assert clusterer.add(2, _point(0, 0.1)).created


def test_plan_keeps_the_largest_cluster_and_the_oldest_on_a_tie() -> None:
    assert plan_placement([], {}) is None
    assert plan_placement([5, 3, 5], {5: 4, 3: 1}) == (5, (3,))
    assert plan_placement([5, 3], {5: 2, 3: 2}) == (3, (5,))


def test_seeded_faces_are_found_after_a_restart() -> None:
    clusterer, store = _clusterer()
    cluster_id = store.start_cluster(7)
    clusterer.seed([7], _point(2).reshape(1, -1))
    assert clusterer.add(8, _point(2, 0.2)).cluster_id == cluster_id
