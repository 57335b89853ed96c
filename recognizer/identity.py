"""One identity per photo: a person appears at most once in a picture.

The library names every face after its nearest known person, so two faces can both be named
Obama. Here the closer face keeps the name and the other takes its next-nearest person within
tolerance, or stays unknown.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from recognizer.gallery import Match


@dataclass(frozen=True)
class FaceIdentity:
    """What one face of a photo is named, and the people nearest to it."""

    nearest: Match | None  # the nearest person, whether or not this face got the name
    named: Match | None  # the person this face is, or None for unknown
    runner_up: Match | None  # the nearest person other than `named` (or `nearest` when unknown)


def assign_identities(candidates: Sequence[Sequence[Match]], tolerance: float) -> list[FaceIdentity]:
    """Name each face at most once per person, greedily by ascending distance.

    `candidates[i]` are face i's nearest distinct people, nearest first. Pairs (face, person)
    within tolerance are taken closest first; a tie goes to the lower face index, then the lower
    person id, so the answer never depends on arrival order.
    """
    pairs = sorted(
        (match.distance, face, match.person_id, match)
        for face, matches in enumerate(candidates)
        for match in matches
        if match.distance <= tolerance
    )
    named: dict[int, Match] = {}
    taken: set[int] = set()
    for _, face, person_id, match in pairs:
        if face not in named and person_id not in taken:
            named[face] = match
            taken.add(person_id)
    return [_identity(matches, named.get(face)) for face, matches in enumerate(candidates)]


def _identity(matches: Sequence[Match], named: Match | None) -> FaceIdentity:
    nearest = matches[0] if matches else None
    primary = named or nearest
    others = [m for m in matches if primary is None or m.person_id != primary.person_id]
    return FaceIdentity(nearest=nearest, named=named, runner_up=others[0] if others else None)
