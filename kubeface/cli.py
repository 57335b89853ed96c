"""`kubeface`: one command-line entry point for every service and job."""

from __future__ import annotations

import argparse
import json
import logging
import sys

import httpx

from kubeface.logs import configure_logging
from kubeface.settings import load_settings

log = logging.getLogger("kubeface.cli")


def _service(name: str):
    def start(_: argparse.Namespace) -> int:
        module = __import__(f"{name}.__main__", fromlist=["main"])
        module.main()
        return 0

    return start


def _migrate(_: argparse.Namespace) -> int:
    from kubeface.migrate import apply_migrations

    settings = load_settings()
    configure_logging("migrate", settings.log_level)
    applied = apply_migrations(settings)
    print(json.dumps({"applied": applied}))  # noqa: T201 - a command's result, for people and scripts
    return 0


def _retry(args: argparse.Namespace) -> int:
    from kubeface.db import Database
    from kubeface.queue import NsqPublisher
    from kubeface.retry import run_retry

    settings = load_settings()
    configure_logging("retry", settings.log_level)
    db, publisher = Database(settings), NsqPublisher(settings)
    try:
        db.wait_until_reachable(timeout_seconds=30)
        report = run_retry(
            db,
            publisher,
            max_attempts=settings.retry_max_attempts,
            backoff_seconds=settings.retry_backoff_seconds,
            lease_seconds=settings.retry_lease_seconds,
            batch_size=settings.retry_batch_size,
            dry_run=args.dry_run,
        )
    finally:
        publisher.close()
        db.close()
    summary = {"requeued": report.total, "dry_run": report.dry_run, "by_reason": report.requeued}
    print(json.dumps(summary))  # noqa: T201 - the job's report, read by cron mail and people
    return 0


def _enroll(args: argparse.Namespace) -> int:
    settings = load_settings()
    url = args.receiver_url or f"http://127.0.0.1:{settings.receiver_port}"
    try:
        response = httpx.post(f"{url}/person", json={"name": args.name, "paths": args.paths}, timeout=120)
    except httpx.HTTPError as exc:
        print(f"error: the receiver at {url} is unreachable: {exc}", file=sys.stderr)  # noqa: T201
        return 2
    print(json.dumps(response.json()))  # noqa: T201 - the command's result
    return 0 if response.is_success else 1


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="kubeface", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    for name, help_text in [
        ("receiver", "HTTP API that stores posted paths and queues them"),
        ("processor", "NSQ consumer pool that asks the recognizer and records outcomes"),
        ("recognizer", "gRPC face recognizer"),
        ("frontend", "HTML results browser"),
    ]:
        sub.add_parser(name, help=help_text).set_defaults(func=_service(name))
    sub.add_parser("migrate", help="apply the SQL migrations (a no-op when up to date)").set_defaults(
        func=_migrate
    )
    retry = sub.add_parser("retry", help="re-queue FAILED and stale images (one pass, for cron)")
    retry.add_argument("--dry-run", action="store_true", help="list what would be re-queued, change nothing")
    retry.set_defaults(func=_retry)
    enroll = sub.add_parser("enroll", help="enrol a known person from photos under the image root")
    enroll.add_argument("name")
    enroll.add_argument("paths", nargs="+", help="photo paths, relative to IMAGE_ROOT")
    enroll.add_argument("--receiver-url", help="default: http://127.0.0.1:$RECEIVER_PORT")
    enroll.set_defaults(func=_enroll)
    return parser


def main(argv: list[str] | None = None) -> None:
    import pymysql

    from kubeface.queue import PublishError

    args = build_parser().parse_args(argv)
    try:
        sys.exit(args.func(args))
    except (pymysql.err.OperationalError, PublishError) as exc:
        # A dependency is down: say which, without a traceback, and fail for cron to notice.
        print(f"error: {exc}", file=sys.stderr)  # noqa: T201
        sys.exit(1)


if __name__ == "__main__":
    main()
