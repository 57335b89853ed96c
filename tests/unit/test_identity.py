"""One identity per photo: the assignment of people to the faces of one image."""

from __future__ import annotations

from recognizer.gallery import Match
from recognizer.identity import assign_identities

OBAMA, BIDEN, CARTER = 1, 2, 3
NAMES = {OBAMA: "Obama", BIDEN: "Biden", CARTER: "Carter"}


def _m(person_id: int, distance: float) -> Match:
    return Match(person_id, NAMES[person_id], person_id * 10, distance)


def test_two_faces_nearest_one_person_only_the_closer_gets_the_name():
    far, near = [_m(OBAMA, 0.31), _m(BIDEN, 0.8)], [_m(OBAMA, 0.12), _m(BIDEN, 0.7)]
    first, second = assign_identities([far, near], tolerance=0.6)
    assert second.named == near[0]
    assert first.named is None  # Biden at 0.8 is beyond the tolerance
    assert first.nearest == far[0]
    assert first.runner_up == far[1]  # the nearest person other than its nearest
    assert second.runner_up == near[1]


def test_the_face_that_lost_its_nearest_takes_its_next_person_within_tolerance():
    loser, winner = [_m(OBAMA, 0.30), _m(BIDEN, 0.45), _m(CARTER, 0.5)], [_m(OBAMA, 0.1), _m(CARTER, 0.9)]
    first, second = assign_identities([loser, winner], tolerance=0.6)
    assert (first.named, second.named) == (loser[1], winner[0])
    assert first.nearest == loser[0]
    assert first.runner_up == loser[0]  # nearest other than Biden, the one it was named


def test_an_exact_tie_goes_to_the_lower_face_index_whatever_the_order():
    same = [_m(OBAMA, 0.0), _m(BIDEN, 0.9)]
    first, second = assign_identities([same, list(same)], tolerance=0.6)
    assert first.named == same[0] and second.named is None
    assert second.nearest == same[0] and second.runner_up == same[1]


def test_faces_beyond_tolerance_are_unknown_and_faces_without_candidates_are_empty():
    unknown, nobody = assign_identities([[_m(OBAMA, 0.7)], []], tolerance=0.6)
    assert unknown.named is None and unknown.nearest == _m(OBAMA, 0.7) and unknown.runner_up is None
    assert nobody.named is None and nobody.nearest is None and nobody.runner_up is None


def test_distinct_people_in_one_photo_each_keep_their_own_name():
    a, b = [_m(OBAMA, 0.2), _m(BIDEN, 0.5)], [_m(BIDEN, 0.25), _m(OBAMA, 0.55)]
    first, second = assign_identities([a, b], tolerance=0.6)
    assert (first.named, second.named) == (a[0], b[0])
