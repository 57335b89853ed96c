"""The services, `migrate`, `recount` and `retry`: what cron, Jobs and containers run."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import TYPE_CHECKING

from kubeface.cli.common import OK, CommandError, print_json, print_table
from kubeface.logs import configure_logging
from kubeface.settings import Settings, load_settings

if TYPE_CHECKING:
    from kubeface.queue import NsqPublisher
    from kubeface.retry import RetryReport

SERVICES = [
    ("receiver", "HTTP API that stores posted paths and queues them"),
    ("processor", "NSQ consumer pool that asks the recognizer and records outcomes"),
    ("recognizer", "gRPC face recognizer"),
    ("frontend", "HTML results browser"),
]


def _cluster(_: argparse.Namespace) -> int:
    from kubeface.cluster_worker import main

    main()
    return OK


def _service(name: str) -> Callable[[argparse.Namespace], int]:
    def start(_: argparse.Namespace) -> int:
        module = __import__(f"{name}.__main__", fromlist=["main"])
        module.main()
        return OK

    return start


def _migrate(args: argparse.Namespace) -> int:
    from kubeface.migrate import apply_migrations, create_service_accounts

    settings = load_settings()
    configure_logging("migrate", settings.log_level)
    result: dict[str, object] = {"applied": apply_migrations(settings)}
    if args.accounts:
        result["accounts"] = create_service_accounts(settings, args.accounts_host)
    print_json(result)
    return OK


def _recount(_: argparse.Namespace) -> int:
    from kubeface.db import Database
    from kubeface.images import status_counts
    from kubeface.images.counts import recount

    settings = load_settings()
    configure_logging("recount", settings.log_level)
    db = Database(settings)
    try:
        db.wait_until_reachable(timeout_seconds=30)
        recount(db)
        print_json({"recounted": status_counts(db)})
    finally:
        db.close()
    return OK


def _retry(args: argparse.Namespace) -> int:
    settings = load_settings()
    configure_logging("retry", settings.log_level)
    if args.dry_run:
        # A dry run publishes nothing: no publisher, and no HTTP client to import (issue 15).
        report, paths = _retry_pass(settings, None)
    else:
        from kubeface.queue import NsqPublisher, PublishError

        publisher = NsqPublisher(settings)
        try:
            report, paths = _retry_pass(settings, publisher)
        except PublishError as exc:
            # nsqd is down: say so without a traceback, and fail for cron to notice.
            raise CommandError(str(exc)) from exc
        finally:
            publisher.close()
    if args.json:
        print_json({"requeued": report.total, "dry_run": report.dry_run, "by_reason": report.requeued})
        return OK
    verb = "would re-queue" if report.dry_run else "re-queued"
    print(f"{verb} {report.total} image(s)")  # noqa: T201 - the job's report, read by cron mail and people
    rows = [[i, reason, paths.get(i, "")] for reason, ids in report.requeued.items() for i in ids]
    if rows:
        print_table(["id", "reason", "path"], rows)
    return OK


def _retry_pass(settings: Settings, publisher: NsqPublisher | None) -> tuple[RetryReport, dict[int, str]]:
    """One pass (a dry run without a publisher), and the paths of the images it names."""
    from kubeface.db import Database
    from kubeface.images import paths_by_id
    from kubeface.retry import run_retry

    db = Database(settings)
    try:
        db.wait_until_reachable(timeout_seconds=30)
        report = run_retry(
            db,
            publisher,
            max_attempts=settings.retry_max_attempts,
            backoff_seconds=settings.retry_backoff_seconds,
            lease_seconds=settings.retry_lease_seconds,
            batch_size=settings.retry_batch_size,
            dry_run=publisher is None,
        )
        return report, paths_by_id(db, [i for ids in report.requeued.values() for i in ids])
    finally:
        db.close()


def add_parsers(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    for name, help_text in SERVICES:
        sub.add_parser(name, help=help_text).set_defaults(func=_service(name))
    sub.add_parser("cluster", help="the one worker that groups unknown faces into clusters").set_defaults(
        func=_cluster
    )
    migrate = sub.add_parser("migrate", help="apply the SQL migrations (a no-op when up to date)")
    migrate.add_argument(
        "--accounts",
        action="store_true",
        help="then create or update each service's least-privilege MySQL account, with passwords from"
        " KUBEFACE_<SERVICE>_PASSWORD (needs CREATE USER and GRANT OPTION)",
    )
    migrate.add_argument("--accounts-host", default="%", help="the hosts the accounts may connect from")
    migrate.set_defaults(func=_migrate)
    sub.add_parser(
        "recount", help="rebuild the image counters from the rows (after bulk SQL or an upgrade)"
    ).set_defaults(func=_recount)
    retry = sub.add_parser(
        "retry", help="re-queue FAILED, stale and newly matchable images (one pass, for cron)"
    )
    retry.add_argument("--dry-run", action="store_true", help="list what would be re-queued, change nothing")
    retry.add_argument("--json", action="store_true", help="print one JSON object instead of a table")
    retry.set_defaults(func=_retry)
