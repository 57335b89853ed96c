"""Measuring a match tolerance on labelled photos: the split, the errors, the suggestion.

Pure arithmetic on encodings and distances; `kubeface eval` (kubeface/cli/eval.py) reads the
photos and encodes them with the recognizer's own code.
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

DEFAULT_TOLERANCES = tuple(round(0.40 + 0.05 * step, 2) for step in range(7))  # 0.40 … 0.70
# A wrong name is worse than "unknown" (an operator can enrol an unknown face; a wrong name
# goes unnoticed), so false accepts count first.
SUGGESTION_RULE = (
    "fewest false accepts, then fewest false rejects; of tolerances that tie, the lowest"
    " (the same measured errors with the most margin against false accepts)"
)


class EvalError(ValueError):
    """The photos cannot measure anything; says what to add."""


@dataclass(frozen=True)
class Split:
    enrol: dict[str, list[str]]  # person -> photos enrolled
    probes: list[tuple[str, str]]  # (true person, photo); people not in `enrol` are impostors


def split_photos(photos: Mapping[str, Sequence[str]], seed: int, enrol_fraction: float = 0.5) -> Split:
    """Split each person's photos into enrolment and probes, the same way for the same seed and
    photos: at least one of each for a person with two or more; one photo makes an impostor."""
    people = {name: sorted(paths) for name, paths in photos.items() if paths}
    if len(people) < 2:
        raise EvalError(
            f"found photos of {len(people)} person(s); lay out at least two as DIR/<person>/*.jpg"
            " (one person measures no false accepts)"
        )
    if all(len(paths) < 2 for paths in people.values()):
        raise EvalError(
            "every person has a single photo; give at least one person two or more (one to enrol,"
            " one to probe)"
        )
    enrol: dict[str, list[str]] = {}
    probes: list[tuple[str, str]] = []
    for name in sorted(people):
        paths = list(people[name])
        if len(paths) < 2:
            probes.append((name, paths[0]))
            continue
        random.Random(f"{seed}:{name}").shuffle(paths)
        count = min(len(paths) - 1, max(1, round(len(paths) * enrol_fraction)))
        enrol[name] = sorted(paths[:count])
        probes += [(name, path) for path in sorted(paths[count:])]
    return Split(enrol, probes)


@dataclass(frozen=True)
class Probe:
    person: str  # who it really is
    enrolled: bool  # whether that person is in the gallery
    nearest: str  # the enrolled person with the nearest face
    distance: float


def nearest_person(encoding: np.ndarray, gallery: Sequence[tuple[str, np.ndarray]]) -> tuple[str, float]:
    """The person whose enrolled face is nearest (Euclidean, as the recognizer measures)."""
    matrix = np.stack([known for _, known in gallery])
    distances = np.linalg.norm(matrix - encoding, axis=1)
    best = int(np.argmin(distances))
    return gallery[best][0], float(distances[best])


@dataclass(frozen=True)
class ToleranceRow:
    tolerance: float
    probes: int
    correct: int
    false_accepts: int  # named as someone else: an impostor, or the wrong enrolled person
    false_rejects: int  # an enrolled person left unknown

    @property
    def accuracy(self) -> float:
        return self.correct / self.probes if self.probes else 0.0

    def as_dict(self) -> dict[str, float | int]:
        return {
            "tolerance": self.tolerance,
            "probes": self.probes,
            "correct": self.correct,
            "false_accepts": self.false_accepts,
            "false_rejects": self.false_rejects,
            "accuracy": round(self.accuracy, 4),
        }


def measure(probes: Sequence[Probe], tolerances: Iterable[float]) -> list[ToleranceRow]:
    """One row per tolerance: a probe is named when its nearest distance is at most the tolerance."""
    rows = []
    for tolerance in tolerances:
        correct = false_accepts = false_rejects = 0
        for probe in probes:
            named = probe.distance <= tolerance
            if named and probe.nearest != probe.person:
                false_accepts += 1
            elif not named and probe.enrolled:
                false_rejects += 1
            else:
                correct += 1
        rows.append(ToleranceRow(tolerance, len(probes), correct, false_accepts, false_rejects))
    return rows


def suggest(rows: Sequence[ToleranceRow]) -> ToleranceRow:
    """The row SUGGESTION_RULE picks."""
    if not rows:
        raise EvalError("no tolerances to choose from")
    return min(rows, key=lambda row: (row.false_accepts, row.false_rejects, row.tolerance))
