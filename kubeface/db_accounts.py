"""One MySQL account per service, granted only what that service's queries use.

Print the SQL with `python -m kubeface.db_accounts` (passwords from KUBEFACE_<SERVICE>_PASSWORD),
then run it as an administrator after `kubeface migrate`: `... | mariadb -uroot`. The tests run
every service this way.
"""

from __future__ import annotations

import argparse
import os
import sys

# Every service reads which migrations are applied before it starts (kubeface/schema.py).
_SCHEMA_VERSION = ("SELECT", "_yoyo_migration")

# service -> (privileges, table or table(columns)); "*" is every table of the database.
GRANTS: dict[str, list[tuple[str, str]]] = {
    "migrate": [("ALL PRIVILEGES", "*")],
    "receiver": [
        _SCHEMA_VERSION,
        ("SELECT, INSERT, UPDATE", "images"),  # posts; re-queues from operators and enrolment
        ("SELECT", "faces"),
        ("SELECT, INSERT, UPDATE, DELETE", "person"),  # enrol; rename, merge, erase
        ("SELECT, INSERT, UPDATE, DELETE", "person_images"),  # enrol (upserts the encoding); merge, erase
        (
            "UPDATE (person_id, person_image_id, distance, nearest_person_id, nearest_distance,"
            " runner_up_person_id, margin)",
            "faces",
        ),  # unlink/relabel on erase and merge
        ("SELECT, UPDATE", "gallery_writes"),  # enrolments take its lock (kubeface/people.py)
        ("SELECT, INSERT", "audit_log"),  # every write it makes is recorded (kubeface/audit.py)
        ("UPDATE (cluster_id)", "faces"),  # an operator takes a face out of its cluster
        ("SELECT, UPDATE", "face_clusters"),  # ignore; enrolled as
        ("SELECT, INSERT, UPDATE", "image_counts"),  # kept by every write to images (images/counts.py)
        ("SELECT, INSERT, UPDATE, DELETE", "person_image_counts"),  # re-queues; a merge moves them
        (
            "SELECT (face_id), DELETE",
            "face_encodings",
        ),  # a face taken out of its cluster is never placed again
    ],
    # The clustering worker (kubeface/cluster_worker.py): the only reader of face_encodings.
    "cluster": [
        _SCHEMA_VERSION,
        ("SELECT", "faces"),
        ("UPDATE (cluster_id)", "faces"),
        ("SELECT, UPDATE (clustered)", "face_encodings"),
        ("SELECT, INSERT, UPDATE, DELETE", "face_clusters"),
    ],
    "processor": [
        _SCHEMA_VERSION,
        ("SELECT, UPDATE", "images"),  # claim, release, complete
        ("SELECT, INSERT, DELETE", "faces"),
        ("INSERT", "face_encodings"),  # unknown faces, for the clustering worker
        ("SELECT, INSERT, UPDATE", "image_counts"),  # kept by every outcome (kubeface/images/counts.py)
        ("SELECT, INSERT, UPDATE", "person_image_counts"),
        ("SELECT (id)", "person_images"),  # is the recognizer behind the newest enrolment?
        ("SELECT (id, name)", "person"),  # the name in the outcome event (kubeface/outcomes.py)
    ],
    "recognizer": [
        _SCHEMA_VERSION,
        ("SELECT", "person"),
        ("SELECT", "person_images"),
        ("SELECT", "gallery_writes"),  # `changes`: reload all after a rename, merge or erasure
        ("UPDATE (encoding)", "person_images"),  # caches an encoding it had to compute
    ],
    "retry": [
        _SCHEMA_VERSION,
        ("SELECT, UPDATE", "images"),
        ("SELECT", "faces"),
        ("SELECT (created_at)", "person_images"),  # PENDING images older than the newest enrolment
        ("INSERT", "audit_log"),  # each pass that re-queued something
        ("SELECT, INSERT, UPDATE", "image_counts"),  # kept by every re-queue (kubeface/images/counts.py)
    ],
    # Read-only; its operator actions go through the receiver. Not person_images.encoding: face
    # encodings are biometric data that no page shows (`encoded` says whether one is cached).
    "frontend": [
        _SCHEMA_VERSION,
        ("SELECT", "images"),
        ("SELECT", "faces"),
        ("SELECT", "person"),
        ("SELECT (id, person_id, path, encoded, created_at)", "person_images"),
        ("SELECT", "audit_log"),  # the audit page
        ("SELECT", "face_clusters"),  # the "Unknown people" page; never face_encodings
        ("SELECT", "image_counts"),  # the counts of the results page and /metrics
        ("SELECT", "person_image_counts"),  # the people page
    ],
}


def account_name(service: str) -> str:
    return f"kubeface_{service}"


def _quote(value: str) -> str:
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def account_statements(
    database: str, passwords: dict[str, str], host: str = "%", services: list[str] | None = None
) -> list[str]:
    """CREATE USER / GRANT statements, idempotent: passwords are reset, and each account is left
    with exactly its GRANTS, so an upgrade takes back what an older release granted.

    Table grants need the tables: run them after `kubeface migrate`.
    """
    statements = []
    for service in services or list(GRANTS):
        grants = GRANTS[service]
        user = f"{_quote(account_name(service))}@{_quote(host)}"
        password = _quote(passwords[service])
        statements.append(f"CREATE USER IF NOT EXISTS {user} IDENTIFIED BY {password}")
        statements.append(f"ALTER USER {user} IDENTIFIED BY {password}")
        # GRANT only adds. Needs CREATE USER, which creating the accounts needs anyway.
        statements.append(f"REVOKE ALL PRIVILEGES, GRANT OPTION FROM {user}")
        for privileges, table in grants:
            target = f"`{database}`.{'*' if table == '*' else table}"
            statements.append(f"GRANT {privileges} ON {target} TO {user}")
    return statements


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--database", default=os.environ.get("MYSQL_DATABASE", "kubeface"))
    parser.add_argument("--host", default="%", help="the hosts the accounts may connect from")
    args = parser.parse_args()
    missing = [s for s in GRANTS if not os.environ.get(f"KUBEFACE_{s.upper()}_PASSWORD")]
    if missing:
        names = ", ".join(f"KUBEFACE_{s.upper()}_PASSWORD" for s in missing)
        sys.exit(f"error: set {names}; every account needs its own password")
    passwords = {s: os.environ[f"KUBEFACE_{s.upper()}_PASSWORD"] for s in GRANTS}
    for statement in account_statements(args.database, passwords, args.host):
        print(statement + ";")  # noqa: T201 - the SQL is this command's output


if __name__ == "__main__":
    main()
