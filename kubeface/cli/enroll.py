"""`kubeface enroll`: enrol known people from photos, one person or a folder per person."""

from __future__ import annotations

import argparse
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
from tqdm import tqdm

from kubeface.cli.common import (
    FAILED,
    OK,
    CommandError,
    call,
    error_of,
    expand,
    print_json,
    print_table,
    receiver_client,
    say,
)
from kubeface.settings import load_settings


def add_parser(sub: argparse._SubParsersAction) -> None:
    enroll = sub.add_parser(
        "enroll",
        help="enrol known people from photos under IMAGE_ROOT",
        description="Enrol NAME from FILES, or every sub-folder of --from-dir as one person named"
        " after the folder (the layout of face_recognition's CLI and KNN example).",
    )
    enroll.add_argument("name", nargs="?")
    enroll.add_argument("paths", nargs="*", metavar="FILE", help="photo paths (relative to IMAGE_ROOT)")
    enroll.add_argument("--from-dir", metavar="DIR", help="one sub-folder per person: DIR/<name>/*.jpg")
    enroll.add_argument("--concurrency", type=int, default=2, help="photos encoded at once (default 2)")
    enroll.add_argument("--receiver-url", help="default: http://127.0.0.1:$RECEIVER_PORT")
    enroll.add_argument("--json", action="store_true", help="print one JSON object instead of a table")
    enroll.set_defaults(func=run)


def _people(args: argparse.Namespace, root: Path) -> list[tuple[str, str]]:
    """(name, photo path) pairs to enrol."""
    if args.from_dir:
        if args.name or args.paths:
            raise CommandError("give either NAME FILES... or --from-dir DIR, not both")
        folder = Path(args.from_dir) if Path(args.from_dir).is_dir() else root / args.from_dir
        if not folder.is_dir():
            raise CommandError(f"{args.from_dir} is not a folder here or under IMAGE_ROOT ({root})")
        pairs = []
        for person in sorted(p for p in folder.iterdir() if p.is_dir()):
            pairs += [(person.name, photo) for photo in expand([str(person)], root)]
        if not pairs:
            raise CommandError(
                f"no photos in the sub-folders of {args.from_dir}; lay them out as DIR/<name>/*.jpg"
            )
        return pairs
    if not args.name or not args.paths:
        raise CommandError("give NAME and at least one FILE, or --from-dir DIR")
    return [(args.name, photo) for photo in expand(args.paths, root)]


def _enrol_one(client: httpx.Client, name: str, path: str) -> dict:
    response = call(client, "POST", "/person", json={"name": name, "paths": [path]})
    if response.is_success:
        return {"name": name, "path": path, "ok": True, "person_id": response.json()["id"]}
    return {"name": name, "path": path, "ok": False, "error": error_of(response)}


def run(args: argparse.Namespace) -> int:
    settings = load_settings()
    pairs = _people(args, settings.resolved_image_root)
    results = []
    with (
        receiver_client(settings, args.receiver_url) as client,
        ThreadPoolExecutor(max(1, args.concurrency)) as pool,
        tqdm(total=len(pairs), unit="photo", desc="enrolled", disable=args.json or None) as bar,
    ):
        for result in pool.map(lambda pair: _enrol_one(client, *pair), pairs):
            results.append(result)
            bar.update(1)
    failed = [r for r in results if not r["ok"]]
    if args.json:
        print_json({"enrolled": len(results) - len(failed), "results": results})
    else:
        names = sorted({r["name"] for r in results})
        print_table(
            ["person", "photos enrolled", "refused"],
            [
                [
                    n,
                    sum(r["ok"] for r in results if r["name"] == n),
                    sum(not r["ok"] for r in results if r["name"] == n),
                ]
                for n in names
            ],
        )
        for r in failed:
            say(f"refused {r['path']} for {r['name']}: {r['error']}")
    return FAILED if failed else OK
