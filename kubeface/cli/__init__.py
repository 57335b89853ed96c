"""`kubeface`: one command-line entry point for every service, job and operator tool.

Exit codes: 0 success, 1 something failed or was refused, 2 a service was unreachable,
3 `post --wait` timed out. Every operator command takes --json for scripts.
"""

from __future__ import annotations

import argparse
import sys

from kubeface.cli import audit, enroll, jobs, people, post, status
from kubeface.cli import eval as eval_cli
from kubeface.cli.common import FAILED, CommandError, say


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="kubeface", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    sub = parser.add_subparsers(dest="command", required=True)
    jobs.add_parsers(sub)
    post.add_parser(sub)
    enroll.add_parser(sub)
    status.add_parser(sub)
    people.add_parser(sub)
    eval_cli.add_parser(sub)
    audit.add_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> None:
    import pymysql

    from kubeface.queue import PublishError

    args = build_parser().parse_args(argv)
    try:
        sys.exit(args.func(args))
    except CommandError as exc:
        say(f"error: {exc}")
        sys.exit(exc.code)
    except (pymysql.err.OperationalError, PublishError) as exc:
        # A dependency is down: say which, without a traceback, and fail for cron to notice.
        say(f"error: {exc}")
        sys.exit(FAILED)
