"""`kubeface people export|import`: the gallery to a file and into another deployment.

Both talk to MySQL directly (MYSQL_USER must be an account that may read `person_images.encoding`
and, to import, write `person`, `person_images`, `gallery_writes` and `audit_log`: the receiver's).
"""

from __future__ import annotations

import argparse
import getpass
from pathlib import Path

from kubeface.cli.common import OK, CommandError, print_json, print_table, say
from kubeface.db import Database
from kubeface.settings import load_settings


def add_bundle_parsers(people: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    export = people.add_parser(
        "export",
        help="write the gallery (names, photo paths, encodings) to a file",
        description="Write every known person with their photo paths and cached encodings to FILE,"
        " tagged with the face model that made them. Photos whose encoding is not cached yet are"
        " left out and listed.",
    )
    export.add_argument("file", metavar="FILE", type=Path)
    export.add_argument("--json", action="store_true", help="print one JSON object instead of a table")
    export.set_defaults(func=run_export)
    load = people.add_parser(
        "import",
        help="enrol the people of an exported file, without encoding again",
        description="Enrol the people of FILE with its encodings, all or nothing. Refused when FILE"
        " was made with another face model. Photo paths need no file under IMAGE_ROOT: matching"
        " uses the encodings; the frontend just has no picture to show for them.",
    )
    load.add_argument("file", metavar="FILE", type=Path)
    load.add_argument(
        "--on-conflict",
        choices=["fail", "skip", "merge"],
        default="fail",
        help="a name that is already enrolled: fail (import nothing; the default), skip that person,"
        " or merge (add the photos to them)",
    )
    load.add_argument("--json", action="store_true", help="print one JSON object instead of a table")
    load.set_defaults(func=run_import)


def cli_actor() -> str:
    """Who the audit log names for a command run here: the operating-system user."""
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):  # a container user without a passwd entry
        return "cli:unknown"


def run_export(args: argparse.Namespace) -> int:
    from kubeface.face_model import installed_model
    from kubeface.gallery_bundle import export_bundle, write_bundle

    settings = load_settings()
    db = Database(settings)
    try:
        db.wait_until_reachable(timeout_seconds=10)
        bundle, report = export_bundle(db, installed_model())
    finally:
        db.close()
    try:
        write_bundle(bundle, args.file)
    except OSError as exc:
        raise CommandError(f"cannot write {args.file}: {exc}") from exc
    summary = {
        "file": str(args.file),
        "people": report.people,
        "photos": report.photos,
        "model": bundle["model"]["id"],
        "left_out": report.left_out,
    }
    if args.json:
        print_json(summary)
    else:
        print_table(["people", "photos", "model"], [[report.people, report.photos, summary["model"]]])
        for item in report.left_out:
            say(f"left out {item['path']} of {item['name']}: {item['reason']}")
    return OK


def run_import(args: argparse.Namespace) -> int:
    from kubeface.face_model import installed_model
    from kubeface.gallery_bundle import BundleInvalid, ModelMismatch, import_bundle, read_bundle
    from kubeface.people import NamesTaken, OnConflict

    settings = load_settings()
    root = settings.resolved_image_root
    try:
        bundle = read_bundle(args.file, root)
    except OSError as exc:
        raise CommandError(f"cannot read {args.file}: {exc}") from exc
    except BundleInvalid as exc:
        raise CommandError(str(exc)) from exc
    db = Database(settings)
    try:
        db.wait_until_reachable(timeout_seconds=10)
        report = import_bundle(
            db,
            bundle,
            here=installed_model(),
            on_conflict=OnConflict(args.on_conflict),
            actor=cli_actor(),
            source=args.file.name,
            image_root=root,
        )
    except (ModelMismatch, NamesTaken) as exc:
        raise CommandError(str(exc)) from exc
    finally:
        db.close()
    people = [
        {"name": p.name, "person_id": p.person_id, "outcome": p.outcome, "photos": len(p.person_image_ids)}
        for p in report.people
    ]
    if args.json:
        print_json({"people": people, "missing_files": report.missing_files})
    else:
        print_table(["person", "outcome", "photos"], [[p["name"], p["outcome"], p["photos"]] for p in people])
    if report.missing_files:
        say(
            f"note: {len(report.missing_files)} photo path(s) have no file under IMAGE_ROOT ({root});"
            " they are matched by their encodings, but the frontend has no picture for them"
        )
    return OK
