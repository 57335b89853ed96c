from __future__ import annotations

import numpy as np
from prometheus_client import REGISTRY

from kubeface.encodings import encoding_from_bytes, encoding_to_bytes
from recognizer.gallery import Gallery, KnownFace


def _faces(count: int, seed: int = 0) -> list[KnownFace]:
    rng = np.random.default_rng(seed)
    vectors = rng.normal(size=(count, 128))
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    return [KnownFace(i + 1, 100 + i % 7, f"p{i % 7}", vectors[i]) for i in range(count)]


def test_nearest_is_the_true_nearest_not_the_first_within_tolerance():
    near, nearer = np.zeros(128), np.zeros(128)
    near[0], nearer[0] = 0.5, 0.1
    gallery = Gallery.of([KnownFace(1, 1, "first", near), KnownFace(2, 2, "closest", nearer)])
    [match] = gallery.nearest([np.zeros(128)])
    assert match.person_name == "closest"
    assert abs(match.distance - 0.1) < 1e-6  # stored as float32


def test_nearest_matches_a_brute_force_search():
    faces = _faces(500)
    gallery = Gallery.of(faces)
    queries = [np.random.default_rng(1).normal(size=128) * 0.1 for _ in range(20)]
    matrix = np.stack([f.encoding for f in faces])
    for query, match in zip(queries, gallery.nearest(queries), strict=True):
        distances = np.linalg.norm(matrix - query, axis=1)
        assert match.person_image_id == faces[int(np.argmin(distances))].person_image_id
        assert abs(match.distance - distances.min()) < 1e-6


def test_empty_gallery_matches_nobody():
    assert Gallery.of([]).nearest([np.zeros(128)]) == [None]


def test_encoding_round_trips_through_bytes():
    encoding = np.random.default_rng(2).normal(size=128)
    blob = encoding_to_bytes(encoding)
    assert len(blob) == 1024
    assert np.array_equal(encoding_from_bytes(blob), encoding)


def test_float32_matching_equals_float64_brute_force_on_many_faces():
    faces = _faces(20_000, seed=3)
    gallery = Gallery.of(faces)
    matrix = np.stack([f.encoding for f in faces])
    rng = np.random.default_rng(4)
    # Queries near known faces (the real case) and far from all of them.
    queries = [matrix[i] + rng.normal(size=128) * 0.05 for i in rng.integers(0, len(faces), 30)]
    queries += [rng.normal(size=128) for _ in range(10)]
    for query, match in zip(queries, gallery.nearest(queries), strict=True):
        distances = np.linalg.norm(matrix - query, axis=1)
        assert match.person_image_id == faces[int(np.argmin(distances))].person_image_id
        assert abs(match.distance - distances.min()) < 1e-6


def test_near_ties_below_float32_resolution_are_settled_exactly():
    base = np.zeros(128)
    base[0] = 0.5
    further, nearer = base.copy(), base.copy()
    further[1], nearer[1] = 3e-4, 1e-4  # squared distances differ by 8e-8, under float32 rounding
    gallery = Gallery.of([KnownFace(1, 1, "further", further), KnownFace(2, 2, "nearer", nearer)])
    [match] = gallery.nearest([base])
    assert match.person_name == "nearer"


def test_extended_keeps_every_face_and_name():
    first, second = _faces(3, seed=5), _faces(2, seed=6)
    second = [KnownFace(10 + f.person_image_id, 200, "later", f.encoding) for f in second]
    gallery = Gallery.of(first).extended(Gallery.of(second))
    assert len(gallery) == 5
    [match] = gallery.nearest([second[1].encoding])
    assert (match.person_image_id, match.person_name) == (second[1].person_image_id, "later")
    assert match.distance < 1e-6


def test_a_crowd_of_near_ties_beyond_the_scan_candidates_is_still_settled_exactly():
    # 100 faces with one float16 code (more than the scan hands on); the last one is nearest,
    # which only float32 can see. Components of 0.02-0.06 have float16 steps of ~1e-5.
    rng = np.random.default_rng(7)
    base = (rng.choice([-1, 1], 128) * rng.uniform(0.02, 0.06, 128)).astype(np.float16).astype(np.float64)
    crowd = [base + rng.uniform(1e-7, 2e-7, 128) for _ in range(99)] + [base]
    faces = [KnownFace(i + 1, i + 1, f"p{i}", encoding) for i, encoding in enumerate(crowd)]
    faces += _faces(5000, seed=8)  # and plenty of faces far away
    gallery = Gallery.of(faces)
    [match] = gallery.nearest([base])
    assert match.person_image_id == 100
    assert match.distance < 1e-6


def _brute_force_persons(faces: list[KnownFace], query: np.ndarray, persons: int) -> list[tuple[int, float]]:
    best: dict[int, float] = {}
    for face in faces:
        distance = float(np.linalg.norm(face.encoding - query))
        best[face.person_id] = min(distance, best.get(face.person_id, np.inf))
    return sorted(((pid, d) for pid, d in best.items()), key=lambda p: (p[1], p[0]))[:persons]


def test_nearest_persons_are_distinct_people_each_at_their_nearest_face_exactly():
    # 300 faces of one person crowd around the query, so the first scan holds only that person:
    # the second person must still be found, at its nearest face.
    rng = np.random.default_rng(11)
    query = rng.normal(size=128)
    query /= np.linalg.norm(query)
    crowd = [KnownFace(i + 1, 1, "crowd", query + rng.normal(scale=0.01, size=128)) for i in range(300)]
    faces = crowd + [
        KnownFace(1000 + i, 2 + i % 40, f"other{i % 40}", e)
        for i, e in enumerate(rng.normal(size=(4000, 128)) * 0.1)
    ]
    gallery = Gallery.of(faces)
    [found] = gallery.nearest_persons([query], 3)
    expected = _brute_force_persons(faces, query, 3)
    assert [m.person_id for m in found] == [pid for pid, _ in expected]
    assert np.allclose([m.distance for m in found], [d for _, d in expected], atol=1e-6)
    assert found[0].person_id == 1


def test_nearest_persons_match_a_brute_force_search_on_random_faces():
    faces = _faces(3000, seed=3)
    rng = np.random.default_rng(4)
    queries = list(rng.normal(size=(10, 128)) / 11)
    gallery = Gallery.of(faces)
    for query, found in zip(queries, gallery.nearest_persons(queries, 4), strict=True):
        expected = _brute_force_persons(faces, query, 4)
        assert [m.person_id for m in found] == [p for p, _ in expected]
        # The gallery holds float32 encodings: distances agree to float32 precision.
        assert np.allclose([m.distance for m in found], [d for _, d in expected], atol=1e-6)


def test_nearest_persons_asks_for_more_people_than_there_are():
    gallery = Gallery.of(_faces(20))
    [found] = gallery.nearest_persons([np.zeros(128)], 50)
    assert sorted(m.person_id for m in found) == list(range(100, 107))


def _scans(why: str) -> float:
    return REGISTRY.get_sample_value("recognizer_match_scans_total", {"scan": why}) or 0.0


def _clustered_faces(people: int, photos: int, seed: int) -> tuple[list[KnownFace], np.ndarray, np.ndarray]:
    # Spread like dlib encodings (bench/matching.py): a shared mean, people ~0.8 apart, photos of
    # one person ~0.35 apart.
    rng = np.random.default_rng(seed)
    mean = rng.normal(0.0, 0.12, 128)
    centres = mean + rng.normal(0.0, 0.05, (people, 128))
    faces = [
        KnownFace(p * photos + i + 1, p + 1, f"p{p}", centres[p] + rng.normal(0.0, 0.0235, 128))
        for p in range(people)
        for i in range(photos)
    ]
    return faces, mean, centres


def test_nearest_persons_match_a_brute_force_search_on_faces_clustered_by_person_in_one_scan():
    faces, mean, centres = _clustered_faces(people=2000, photos=10, seed=21)
    gallery = Gallery.of(faces)
    rng = np.random.default_rng(22)
    queries = [centres[p] + rng.normal(0.0, 0.0235, 128) for p in rng.integers(0, len(centres), 25)]
    queries += [
        mean + rng.normal(0.0, 0.05, 128) + rng.normal(0.0, 0.0235, 128) for _ in range(5)
    ]  # strangers
    extra_before = _scans("wider") + _scans("float32")
    found_all = gallery.nearest_persons(queries, 2)  # as Identify asks for a photo of one face
    extra_scans = _scans("wider") + _scans("float32") - extra_before
    for query, found in zip(queries, found_all, strict=True):
        expected = _brute_force_persons(faces, query, 2)
        assert [m.person_id for m in found] == [p for p, _ in expected]
        assert np.allclose([m.distance for m in found], [d for _, d in expected], atol=1e-6)
    # One scan of the gallery answers nearly every face: the first candidates already settle it.
    assert extra_scans <= 3


def test_a_crowd_within_one_code_step_beyond_the_first_candidates_is_settled_exactly():
    # 300 people whose faces differ by far less than one code step (so they scan alike, more
    # than the first scan hands on); the last is truly nearest. The scan must widen, not guess.
    rng = np.random.default_rng(23)
    base = rng.normal(0.0, 0.05, 128)
    crowd = [base + rng.uniform(1e-6, 2e-6, 128) for _ in range(299)] + [base]
    faces = [KnownFace(i + 1, i + 1, f"p{i}", encoding) for i, encoding in enumerate(crowd)]
    faces += [
        KnownFace(1000 + f.person_image_id, 1000 + f.person_id, "far", f.encoding) for f in _faces(5000, 24)
    ]
    gallery = Gallery.of(faces)
    wider_before = _scans("wider")
    [found] = gallery.nearest_persons([base], 2)
    assert found[0].person_image_id == 300
    assert found[0].distance < 1e-6
    assert found[1].person_id == _brute_force_persons(faces, base, 2)[1][0]
    assert _scans("wider") > wider_before


def test_a_crowd_beyond_the_widest_scan_is_scored_in_float32_exactly():
    rng = np.random.default_rng(25)
    base = rng.normal(0.0, 0.05, 128)
    crowd = [base + rng.uniform(1e-6, 2e-6, 128) for _ in range(2199)] + [base]
    faces = [KnownFace(i + 1, i + 1, f"p{i}", encoding) for i, encoding in enumerate(crowd)]
    faces += [KnownFace(5000 + f.person_image_id, 5000, "far", f.encoding) for f in _faces(100, 26)]
    float32_before = _scans("float32")
    [match] = Gallery.of(faces).nearest([base])
    assert (match.person_image_id, match.distance < 1e-6) == (2200, True)
    assert _scans("float32") == float32_before + 1


def test_a_query_outside_the_range_of_the_codes_is_scored_exactly():
    faces = _faces(2000, seed=27)
    far = np.full(128, 3.0)  # every component far beyond the known faces' (unit vectors)
    [match] = Gallery.of(faces).nearest([far])
    distances = [float(np.linalg.norm(f.encoding - far)) for f in faces]
    assert match.person_image_id == faces[int(np.argmin(distances))].person_image_id
    assert abs(match.distance - min(distances)) < 1e-6
