from __future__ import annotations

import numpy as np

from recognizer.gallery import Gallery, KnownFace, encoding_from_bytes, encoding_to_bytes


def _faces(count: int, seed: int = 0) -> list[KnownFace]:
    rng = np.random.default_rng(seed)
    vectors = rng.normal(size=(count, 128))
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    return [KnownFace(i + 1, 100 + i % 7, f"p{i % 7}", vectors[i]) for i in range(count)]


def test_nearest_is_the_true_nearest_not_the_first_within_tolerance():
    near, nearer = np.zeros(128), np.zeros(128)
    near[0], nearer[0] = 0.5, 0.1
    gallery = Gallery([KnownFace(1, 1, "first", near), KnownFace(2, 2, "closest", nearer)])
    [match] = gallery.nearest([np.zeros(128)])
    assert match.person_name == "closest"
    assert abs(match.distance - 0.1) < 1e-9


def test_nearest_matches_a_brute_force_search():
    faces = _faces(500)
    gallery = Gallery(faces)
    queries = [np.random.default_rng(1).normal(size=128) * 0.1 for _ in range(20)]
    matrix = np.stack([f.encoding for f in faces])
    for query, match in zip(queries, gallery.nearest(queries), strict=True):
        distances = np.linalg.norm(matrix - query, axis=1)
        assert match.person_image_id == faces[int(np.argmin(distances))].person_image_id
        assert abs(match.distance - distances.min()) < 1e-9


def test_empty_gallery_matches_nobody():
    assert Gallery([]).nearest([np.zeros(128)]) == [None]


def test_encoding_round_trips_through_bytes():
    encoding = np.random.default_rng(2).normal(size=128)
    blob = encoding_to_bytes(encoding)
    assert len(blob) == 1024
    assert np.array_equal(encoding_from_bytes(blob), encoding)
