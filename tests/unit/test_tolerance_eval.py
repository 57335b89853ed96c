"""The split, the error counts and the suggested tolerance, with made-up distances."""

from __future__ import annotations

import pytest

from kubeface.tolerance_eval import EvalError, Probe, measure, split_photos, suggest


def test_the_split_is_seeded_and_keeps_one_of_each_per_person():
    photos = {
        "ann": [f"ann/{i}.jpg" for i in range(5)],
        "bob": ["bob/1.jpg", "bob/2.jpg"],
        "eve": ["eve/1.jpg"],
    }
    first, again = split_photos(photos, seed=7), split_photos(photos, seed=7)
    assert first == again
    assert len(first.enrol["ann"]) in (2, 3) and first.enrol["bob"] and "eve" not in first.enrol
    probed = {person for person, _ in first.probes}
    assert probed == {"ann", "bob", "eve"}, "every person has a probe; eve, with one photo, is an impostor"
    for person, photo in first.probes:
        assert photo not in first.enrol.get(person, [])
    assert {split_photos(photos, seed=s).enrol["ann"][0] for s in range(20)} != {first.enrol["ann"][0]}


@pytest.mark.parametrize(
    ("photos", "says"),
    [
        ({"ann": ["a.jpg", "b.jpg"]}, "at least two"),
        ({}, "at least two"),
        ({"ann": ["a"], "bob": ["b"]}, "single photo"),
    ],
)
def test_photos_that_measure_nothing_are_refused_saying_what_to_add(photos, says):
    with pytest.raises(EvalError, match=says):
        split_photos(photos, seed=0)


def test_errors_are_counted_per_tolerance():
    probes = [
        Probe("ann", True, "ann", 0.30),  # right at any tolerance
        Probe("ann", True, "ann", 0.55),  # rejected below 0.55
        Probe("bob", True, "ann", 0.50),  # the wrong person from 0.50 on
        Probe("eve", False, "bob", 0.62),  # an impostor named from 0.62 on
    ]
    rows = {row.tolerance: row for row in measure(probes, [0.4, 0.5, 0.6, 0.7])}
    assert (rows[0.4].false_accepts, rows[0.4].false_rejects, rows[0.4].correct) == (0, 2, 2)
    assert (rows[0.5].false_accepts, rows[0.5].false_rejects) == (1, 1)
    assert (rows[0.6].false_accepts, rows[0.6].false_rejects, rows[0.6].accuracy) == (1, 0, 0.75)
    assert (rows[0.7].false_accepts, rows[0.7].false_rejects) == (2, 0)


def test_the_suggestion_puts_false_accepts_first_then_false_rejects_then_the_lowest():
    probes = [Probe("ann", True, "ann", 0.44), Probe("eve", False, "ann", 0.66)]
    rows = measure(probes, [0.40, 0.45, 0.50, 0.55, 0.60, 0.65, 0.70])
    assert suggest(rows).tolerance == 0.45
