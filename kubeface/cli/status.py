"""`kubeface status`: counts by status, the oldest unfinished rows, breaker and queue depth."""

from __future__ import annotations

import argparse
from typing import Any

from kubeface.cli.common import OK, UNREACHABLE, print_json, print_table, say
from kubeface.db import Database
from kubeface.images import oldest_waiting, status_counts
from kubeface.settings import load_settings
from kubeface.system import Endpoints, take_snapshot

OLDEST = 5


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    status = sub.add_parser(
        "status", help="how the pipeline is doing: counts, oldest waiting, breaker, queue"
    )
    status.add_argument("--json", action="store_true", help="print one JSON object instead of tables")
    status.set_defaults(func=run)


def _read(db: Database) -> dict[str, Any]:
    return {"counts": status_counts(db), "oldest": oldest_waiting(db, OLDEST)}


def run(args: argparse.Namespace) -> int:
    settings = load_settings()
    db = Database(settings)
    try:
        db.wait_until_reachable(timeout_seconds=10)
        report = _read(db)
        snapshot = take_snapshot(Endpoints.from_settings(settings), db)
    finally:
        db.close()
    report["system"] = snapshot.as_dict()
    if args.json:
        print_json(report)
    else:
        print_table(["status", "images"], list(report["counts"].items()))
        for status, rows in report["oldest"].items():
            print(f"\noldest {status}")  # noqa: T201
            print_table(
                ["id", "path", "attempts", "waiting"],
                [[r["id"], r["path"], r["attempts"], f"{r['age_seconds']}s"] for r in rows]
                or [["-", "none", "", ""]],
            )
        depth = snapshot.queue_depth if snapshot.queue_depth is not None else "unknown"
        print(f"\nbreaker: {snapshot.breaker}    queue depth: {depth}")  # noqa: T201
        for problem in snapshot.problems:
            say(f"warning: {problem}")
    # Counts come from MySQL; a service that does not answer is a failure worth a non-zero exit.
    return UNREACHABLE if snapshot.problems else OK
