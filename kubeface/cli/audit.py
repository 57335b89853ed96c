"""`kubeface audit`: who did what, newest first, read from the receiver's GET /audit (token needed)."""

from __future__ import annotations

import argparse

from kubeface.audit import AuditAction
from kubeface.cli.common import OK, CommandError, call, error_of, print_json, print_table, receiver_client
from kubeface.settings import load_settings


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    audit = sub.add_parser(
        "audit",
        help="show the audit log: who enrolled, re-queued, uploaded what",
        description="Audit records, newest first; filters are exact. Page back with --before set to"
        " the id the previous page printed as `older`.",
    )
    audit.add_argument("--actor", help="an operator login, api-token, anonymous or retry-job")
    audit.add_argument("--action", choices=[a.value for a in AuditAction])
    audit.add_argument("--target", help="what changed, e.g. person:12 or image:7")
    audit.add_argument("--before", type=int, help="records older than this id")
    audit.add_argument("--limit", type=int, default=50, help="records per page, at most 500 (default 50)")
    audit.add_argument("--receiver-url", help="default: http://127.0.0.1:$RECEIVER_PORT")
    audit.add_argument("--json", action="store_true", help="print the receiver's JSON answer")
    audit.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    filters = {name: getattr(args, name) for name in ("actor", "action", "target", "before", "limit")}
    params = {name: value for name, value in filters.items() if value is not None}
    with receiver_client(load_settings(), args.receiver_url) as client:
        response = call(client, "GET", "/audit", params=params)
    if not response.is_success:
        raise CommandError(f"the receiver refused: {error_of(response)}")
    answer = response.json()
    if args.json:
        print_json(answer)
        return OK
    rows = [[r["id"], r["at"], r["actor"], r["action"], r["target"], r["details"]] for r in answer["records"]]
    print_table(["id", "at", "actor", "action", "target", "details"], rows)
    if answer["next_before"] is not None:
        print_table(["older"], [[f"--before {answer['next_before']}"]])
    return OK
