"""`kubeface`: one command-line entry point for every service, job and operator tool.

Exit codes: 0 success, 1 something failed or was refused, 2 a service was unreachable,
3 `post --wait` timed out. Every operator command takes --json for scripts.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from typing import NamedTuple


class Command(NamedTuple):
    register: str  # "module:function" that adds the command's parser (and its siblings')
    help: str


_JOBS = "kubeface.cli.jobs:add_parsers"
# `kubeface --help` lists these without importing any of them (grpc, numpy, pymysql... take half a
# second); a command imports only its own module, whose parser has the same help
# (tests/unit/test_cli_imports.py checks that the two agree).
COMMANDS: dict[str, Command] = {
    "receiver": Command(_JOBS, "HTTP API that stores posted paths and queues them"),
    "processor": Command(_JOBS, "NSQ consumer pool that asks the recognizer and records outcomes"),
    "recognizer": Command(_JOBS, "gRPC face recognizer"),
    "frontend": Command(_JOBS, "HTML results browser"),
    "cluster": Command(_JOBS, "the one worker that groups unknown faces into clusters"),
    "migrate": Command(_JOBS, "apply the SQL migrations (a no-op when up to date)"),
    "recount": Command(_JOBS, "rebuild the image counters from the rows (after bulk SQL or an upgrade)"),
    "retry": Command(_JOBS, "re-queue FAILED, stale and newly matchable images (one pass, for cron)"),
    "post": Command(
        "kubeface.cli.post:add_parser", "queue images (files or folders under IMAGE_ROOT) for recognition"
    ),
    "enroll": Command("kubeface.cli.enroll:add_parser", "enrol known people from photos under IMAGE_ROOT"),
    "status": Command(
        "kubeface.cli.status:add_parser", "how the pipeline is doing: counts, oldest waiting, breaker, queue"
    ),
    "people": Command(
        "kubeface.cli.people:add_parser",
        "the known people: list, show, rename, merge, rm, erase, export, import",
    ),
    "eval": Command(
        "kubeface.cli.eval:add_parser",
        "measure accuracy, false accepts and false rejects at several match tolerances",
    ),
    "audit": Command(
        "kubeface.cli.audit:add_parser", "show the audit log: who enrolled, re-queued, uploaded what"
    ),
}


def build_parser(argv: list[str] | None = None) -> argparse.ArgumentParser:
    """The parser for `argv`: the full parser of the command it names, one line for each other."""
    parser = argparse.ArgumentParser(
        prog="kubeface", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    sub = parser.add_subparsers(dest="command", required=True)
    args = sys.argv[1:] if argv is None else argv
    chosen = COMMANDS.get(args[0]) if args else None
    if chosen is not None:
        register_parser(sub, chosen.register)
    for name, command in COMMANDS.items():
        if name not in sub.choices:
            sub.add_parser(name, help=command.help)
    return parser


def register_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser], register: str) -> None:
    module, function = register.split(":")
    getattr(importlib.import_module(module), function)(sub)


def main(argv: list[str] | None = None) -> None:
    args = build_parser(argv).parse_args(argv)
    # After parsing: `--help` and a usage error need neither.
    import pymysql

    from kubeface.cli.common import FAILED, CommandError, say
    from kubeface.db_tls import DatabaseTlsError
    from kubeface.settings import SettingsError

    try:
        sys.exit(args.func(args))
    except CommandError as exc:
        say(f"error: {exc}")
        sys.exit(exc.code)
    except (SettingsError, DatabaseTlsError) as exc:
        # A setting to change, not a bug: one line that names it, no traceback (services too).
        say(f"error: {exc}")
        sys.exit(FAILED)
    except pymysql.err.OperationalError as exc:
        # A dependency is down: say which, without a traceback, and fail for cron to notice.
        say(f"error: {exc}")
        sys.exit(FAILED)
