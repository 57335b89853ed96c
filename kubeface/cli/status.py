"""`kubeface status`: counts by status, the oldest unfinished rows, breaker and queue depth."""

from __future__ import annotations

import argparse

from kubeface.cli.common import OK, UNREACHABLE, print_json, print_table, say
from kubeface.db import Database
from kubeface.images import ImageStatus
from kubeface.settings import load_settings
from kubeface.system import Endpoints, take_snapshot

OLDEST = 5


def add_parser(sub: argparse._SubParsersAction) -> None:
    status = sub.add_parser(
        "status", help="how the pipeline is doing: counts, oldest waiting, breaker, queue"
    )
    status.add_argument("--json", action="store_true", help="print one JSON object instead of tables")
    status.set_defaults(func=run)


def _read(db: Database) -> dict:
    with db.transaction() as cur:
        cur.execute("SELECT status, COUNT(*) AS n FROM images GROUP BY status")
        found = {row["status"]: row["n"] for row in cur.fetchall()}
        oldest = {}
        # ix_images_status_queued / ix_images_status_started: the oldest few, without a sort.
        for status, column in (("QUEUED", "queued_at"), ("PROCESSING", "started_at")):
            cur.execute(
                f"SELECT id, path, attempts, {column} AS since,"
                f" TIMESTAMPDIFF(SECOND, {column}, NOW(6)) AS age_seconds"
                f" FROM images WHERE status = %s ORDER BY {column} LIMIT {OLDEST}",
                (status,),
            )
            oldest[status] = list(cur.fetchall())
    return {"counts": {s.value: found.get(s.value, 0) for s in ImageStatus}, "oldest": oldest}


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
