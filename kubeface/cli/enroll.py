"""`kubeface enroll`: enrol known people from photos, one person or a folder per person."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import NotRequired, TypedDict

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


class Enrolled(TypedDict):
    """One photo's outcome, as printed by --json."""

    name: str
    path: str
    ok: bool
    person_id: NotRequired[int]
    error: NotRequired[str]


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    enroll = sub.add_parser(
        "enroll",
        help="enrol known people from photos under IMAGE_ROOT",
        description="Enrol NAME from FILES, or every sub-folder of --from-dir as one person named"
        " after the folder (the layout of face_recognition's CLI and KNN example). A name that is"
        " already enrolled is refused unless --add says to add the photos to that person.",
    )
    enroll.add_argument("name", nargs="?")
    enroll.add_argument("paths", nargs="*", metavar="FILE", help="photo paths (relative to IMAGE_ROOT)")
    enroll.add_argument("--from-dir", metavar="DIR", help="one sub-folder per person: DIR/<name>/*.jpg")
    enroll.add_argument(
        "--add",
        action="store_true",
        help="add the photos to a person who is already enrolled under that name (else refused)",
    )
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


def _result(name: str, path: str, response: httpx.Response | None, error: str = "") -> Enrolled:
    """The outcome of `response`, or with none (refused before asking) `error`."""
    if response is None:
        return {"name": name, "path": path, "ok": False, "error": error}
    if response.is_success:
        return {"name": name, "path": path, "ok": True, "person_id": response.json()["id"]}
    return {"name": name, "path": path, "ok": False, "error": error or error_of(response)}


def _person(
    client: httpx.Client, name: str, photos: list[str], add: bool
) -> tuple[int | None, list[Enrolled], list[str]]:
    """Create the person from their first usable photo, or with --add find who has the name.

    Returns the person's id (None: refused), the results so far, and the photos left to add."""
    results: list[Enrolled] = []
    for index, path in enumerate(photos):
        response = call(client, "POST", "/person", json={"name": name, "paths": [path]})
        if response.is_success:
            return response.json()["id"], [_result(name, path, response)], photos[index + 1 :]
        if response.status_code == 409:  # the receiver refuses a taken name before encoding
            person_id = response.json().get("person_id")
            if add and person_id:
                return person_id, results, photos[index:]
            taken = f"{name!r} is already enrolled (id {person_id}); pass --add to add these photos to them"
            return None, results + [_result(name, p, None, taken) for p in photos[index:]], []
        results.append(_result(name, path, response))  # this photo is unusable; try the next
    return None, results, []


def _add_one(client: httpx.Client, person_id: int, name: str, path: str) -> Enrolled:
    response = call(client, "POST", f"/person/{person_id}/photos", json={"paths": [path]})
    return _result(name, path, response)


def _enrol(
    pool: ThreadPoolExecutor,
    client: httpx.Client,
    pairs: list[tuple[str, str]],
    add: bool,
    progress: Callable[[int], object],
) -> list[Enrolled]:
    """Create (or find) each person, then add their other photos, photos in parallel."""
    by_name: dict[str, list[str]] = {}
    for name, photo in pairs:
        by_name.setdefault(name, []).append(photo)
    results: list[Enrolled] = []
    rest: list[tuple[int, str, str]] = []
    for name, (person_id, done, left) in zip(
        by_name, pool.map(lambda n: _person(client, n, by_name[n], add), by_name), strict=True
    ):
        results += done
        progress(len(done))
        if person_id is not None:  # else nothing is left: all refused
            rest += [(person_id, name, photo) for photo in left]
    for result in pool.map(lambda item: _add_one(client, *item), rest):
        results.append(result)
        progress(1)
    return results


def run(args: argparse.Namespace) -> int:
    settings = load_settings()
    pairs = _people(args, settings.resolved_image_root)
    with (
        receiver_client(settings, args.receiver_url) as client,
        ThreadPoolExecutor(max(1, args.concurrency)) as pool,
        tqdm(total=len(pairs), unit="photo", desc="enrolled", disable=args.json or None) as bar,
    ):
        results = _enrol(pool, client, pairs, args.add, bar.update)
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
