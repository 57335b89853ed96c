"""`kubeface people`: list, show, rename, merge, remove a photo, erase; export and import.

Changes go through the receiver's API (its token, its audit log, its re-identification), the
same as the frontend's forms; export and import live in people_bundle.py.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import httpx

from kubeface.cli.common import CommandError, call, error_of, print_json, print_table, receiver_client
from kubeface.cli.people_bundle import add_bundle_parsers
from kubeface.settings import load_settings

if TYPE_CHECKING:
    SubParsers = argparse._SubParsersAction[argparse.ArgumentParser]


def add_parser(sub: SubParsers) -> None:
    people = sub.add_parser(
        "people", help="the known people: list, show, rename, merge, rm, erase, export, import"
    )
    commands = people.add_subparsers(dest="people_command", required=True)
    _command(commands, "list", "every known person with photo and image counts", run_list)
    show = _command(commands, "show", "one person and their photos", run_show)
    show.add_argument("person_id", type=int)
    rename = _command(commands, "rename", "rename a person (a taken name is refused)", run_rename)
    rename.add_argument("person_id", type=int)
    rename.add_argument("name")
    merge = _command(commands, "merge", "move a person's photos into another and remove them", run_merge)
    merge.add_argument("person_id", type=int)
    merge.add_argument("into", type=int, metavar="INTO_ID")
    remove = _command(commands, "rm", "remove one enrolment photo (its matches are re-identified)", run_rm)
    remove.add_argument("person_id", type=int)
    remove.add_argument("photo_id", type=int)
    erase = _command(commands, "erase", "erase a person and print the erasure receipt", run_erase)
    erase.add_argument("person_id", type=int)
    add_bundle_parsers(commands)


def _command(
    commands: SubParsers, name: str, help_text: str, run: Callable[[argparse.Namespace], int]
) -> argparse.ArgumentParser:
    parser = commands.add_parser(name, help=help_text, description=help_text[0].upper() + help_text[1:] + ".")
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of a table")
    parser.add_argument("--receiver-url", help="default: http://127.0.0.1:$RECEIVER_PORT")
    parser.set_defaults(func=run)
    return parser


def _answer(args: argparse.Namespace, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
    with receiver_client(load_settings(), args.receiver_url) as client:
        response = call(client, method, path, **kwargs)
    if not response.is_success:
        raise CommandError(f"the receiver refused: {error_of(response)}")
    answer: dict[str, Any] = response.json()
    return answer


def _all_people(args: argparse.Namespace) -> list[dict[str, Any]]:
    people: list[dict[str, Any]] = []
    after: int | None = 0
    with receiver_client(load_settings(), args.receiver_url) as client:
        while after is not None:
            response: httpx.Response = call(client, "GET", "/people", params={"after": after, "limit": 500})
            if not response.is_success:
                raise CommandError(f"the receiver refused: {error_of(response)}")
            page = response.json()
            people += page["people"]
            after = page["next_after"]
    return people


def run_list(args: argparse.Namespace) -> int:
    people = _all_people(args)
    if args.json:
        print_json({"people": people})
    else:
        print_table(
            ["id", "name", "photos", "images"],
            [[p["id"], p["name"], p["photo_count"], p["image_count"]] for p in people],
        )
    return 0


def run_show(args: argparse.Namespace) -> int:
    person = _answer(args, "GET", f"/person/{args.person_id}")
    if args.json:
        print_json(person)
        return 0
    print_table(
        ["id", "name", "photos", "images"],
        [[person["id"], person["name"], person["photo_count"], person["image_count"]]],
    )
    print()  # noqa: T201
    print_table(["photo", "path", "encoded"], [[p["id"], p["path"], p["encoded"]] for p in person["photos"]])
    return 0


def _print_result(args: argparse.Namespace, result: dict[str, Any]) -> int:
    if args.json:
        print_json(result)
    else:
        print_table(list(result), [list(result.values())])
    return 0


def run_rename(args: argparse.Namespace) -> int:
    return _print_result(args, _answer(args, "PATCH", f"/person/{args.person_id}", json={"name": args.name}))


def run_merge(args: argparse.Namespace) -> int:
    body = {"into": args.into}
    return _print_result(args, _answer(args, "POST", f"/person/{args.person_id}/merge", json=body))


def run_rm(args: argparse.Namespace) -> int:
    path = f"/person/{args.person_id}/photos/{args.photo_id}"
    return _print_result(args, _answer(args, "DELETE", path))


def run_erase(args: argparse.Namespace) -> int:
    return _print_result(args, _answer(args, "DELETE", f"/person/{args.person_id}"))
