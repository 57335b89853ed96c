"""`kubeface eval DIR`: how well each match tolerance separates the people of DIR/<person>/*.jpg.

No mesh: photos are read and encoded here with the recognizer's own code (recognizer/faces.py),
the largest face of each, as enrolment does.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from kubeface.cli.common import IMAGE_SUFFIXES, OK, CommandError, print_json, print_table, say
from kubeface.settings import Settings, load_settings
from kubeface.tolerance_eval import (
    DEFAULT_TOLERANCES,
    SUGGESTION_RULE,
    EvalError,
    Probe,
    ToleranceRow,
    measure,
    nearest_person,
    split_photos,
    suggest,
)


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser(
        "eval",
        help="measure accuracy, false accepts and false rejects at several match tolerances",
        description="Split each person's photos (DIR/<person>/*.jpg) into enrolment and probes"
        " (seeded; a person with one photo is an impostor), encode them as the recognizer does,"
        f" and report the errors at each tolerance and the one to use: {SUGGESTION_RULE}.",
    )
    parser.add_argument("dir", metavar="DIR", type=Path)
    parser.add_argument("--seed", type=int, default=0, help="the split's seed (default 0)")
    parser.add_argument(
        "--tolerances",
        default=",".join(f"{t:.2f}" for t in DEFAULT_TOLERANCES),
        help="comma-separated (default 0.40 to 0.70 by 0.05)",
    )
    parser.add_argument("--plot", type=Path, default=Path("kubeface-eval.png"), help="PNG to write")
    parser.add_argument("--no-plot", action="store_true", help="write no PNG (needs no matplotlib)")
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of a table")
    parser.set_defaults(func=run)


def _tolerances(text: str) -> list[float]:
    try:
        values = sorted({float(part) for part in text.split(",") if part.strip()})
    except ValueError as exc:
        raise CommandError(f"--tolerances must be numbers separated by commas: {exc}") from exc
    if not values or values[0] <= 0:
        raise CommandError("--tolerances needs at least one tolerance, each above 0")
    return values


def _photos(folder: Path) -> dict[str, list[Path]]:
    if not folder.is_dir():
        raise CommandError(f"{folder} is not a folder; lay out photos as DIR/<person>/*.jpg")
    people = {
        person.name: sorted(p for p in person.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
        for person in sorted(folder.iterdir())
        if person.is_dir()
    }
    if not any(people.values()):
        raise CommandError(f"no photos in the sub-folders of {folder}; lay them out as DIR/<person>/*.jpg")
    return people


def _encode(settings: Settings, people: dict[str, list[Path]]) -> tuple[dict[str, Any], list[dict[str, str]]]:
    """Each photo's largest face, keyed by 'person/file'; the photos without one, and why."""
    from recognizer.faces import FaceDetector, ImageError, load_image_file

    detector = FaceDetector(
        settings.detection_model,
        settings.detection_upsample,
        settings.detection_max_side,
        adaptive_upsample=settings.detection_adaptive_upsample,
    )
    encodings: dict[str, Any] = {}
    skipped: list[dict[str, str]] = []
    for name, paths in people.items():
        for path in paths:
            key = f"{name}/{path.name}"
            try:
                face, _ = detector.encode_largest(load_image_file(path))
            except (ImageError, OSError) as exc:
                skipped.append({"photo": key, "reason": str(exc)})
                continue
            encodings[key] = face.encoding
    return encodings, skipped


def _probes(
    split_enrol: dict[str, list[str]], probes: list[tuple[str, str]], encodings: dict[str, Any]
) -> list[Probe]:
    gallery = [(name, encodings[key]) for name, keys in split_enrol.items() for key in keys]
    found = []
    for person, key in probes:
        nearest, distance = nearest_person(encodings[key], gallery)
        found.append(Probe(person, person in split_enrol, nearest, distance))
    return found


def _plot(rows: list[ToleranceRow], suggested: ToleranceRow, current: float, path: Path) -> None:
    try:
        import matplotlib

        matplotlib.use("Agg")
        from matplotlib import pyplot
    except ImportError as exc:
        raise CommandError(f"the plot needs matplotlib ({exc}); install it or pass --no-plot") from exc
    tolerances = [row.tolerance for row in rows]
    figure, axes = pyplot.subplots(figsize=(7, 4.5))
    axes.plot(tolerances, [row.accuracy for row in rows], marker="o", label="accuracy")
    axes.plot(tolerances, [row.false_accepts / row.probes for row in rows], marker="x", label="false accepts")
    axes.plot(tolerances, [row.false_rejects / row.probes for row in rows], marker="s", label="false rejects")
    axes.axvline(
        suggested.tolerance, color="green", linestyle="--", label=f"suggested {suggested.tolerance:.2f}"
    )
    axes.axvline(current, color="grey", linestyle=":", label=f"MATCH_TOLERANCE {current:.2f}")
    axes.set(xlabel="tolerance", ylabel="share of probes", ylim=(-0.02, 1.02), title="kubeface eval")
    axes.legend(loc="center right")
    figure.tight_layout()
    figure.savefig(path, format="png")
    pyplot.close(figure)


def run(args: argparse.Namespace) -> int:
    settings = load_settings()
    tolerances = _tolerances(args.tolerances)
    people = _photos(args.dir)
    encodings, skipped = _encode(settings, people)
    usable = {
        name: [f"{name}/{p.name}" for p in paths if f"{name}/{p.name}" in encodings]
        for name, paths in people.items()
    }
    try:
        split = split_photos(usable, args.seed)
    except EvalError as exc:
        raise CommandError(str(exc)) from exc
    rows = measure(_probes(split.enrol, split.probes, encodings), tolerances)
    suggested = suggest(rows)
    if not args.no_plot:
        _plot(rows, suggested, settings.match_tolerance, args.plot)
    report = {
        "tolerances": [row.as_dict() for row in rows],
        "suggested": suggested.tolerance,
        "rule": SUGGESTION_RULE,
        "current_tolerance": settings.match_tolerance,
        "enrolled": split.enrol,
        "probes": [key for _, key in split.probes],
        "skipped": skipped,
        "plot": None if args.no_plot else str(args.plot),
    }
    if args.json:
        print_json(report)
        return OK
    print_table(
        ["tolerance", "accuracy", "false accepts", "false rejects", "probes"],
        [
            [f"{r.tolerance:.2f}", f"{r.accuracy:.1%}", r.false_accepts, r.false_rejects, r.probes]
            for r in rows
        ],
    )
    print(f"\nsuggested tolerance: {suggested.tolerance:.2f} ({SUGGESTION_RULE})")  # noqa: T201
    print(f"this deployment's MATCH_TOLERANCE: {settings.match_tolerance:.2f}")  # noqa: T201
    for item in skipped:
        say(f"skipped {item['photo']}: {item['reason']}")
    if not args.no_plot:
        say(f"plot: {args.plot}")
    return OK
