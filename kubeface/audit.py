"""The audit log: who changed what, recorded in the same transaction as the change.

Call `record(cur, ...)` with the cursor of the transaction that makes the write; a write that
rolls back leaves no record, and a record that fails rolls the write back.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from kubeface.db import Cursor, Database

# "Who" for a call that presented the receiver's API_TOKEN and named no operator.
API_TOKEN_ACTOR = "api-token"
# "Who" when the receiver runs without API_TOKEN (make run): nobody could be told apart.
OPEN_ACTOR = "anonymous"
RETRY_ACTOR = "retry-job"
ACTOR_MAX = 255
TARGET_MAX = 255


class AuditAction(StrEnum):
    ENROL = "enrol"  # a new person
    ADD_PHOTO = "add_photo"
    REMOVE_PHOTO = "remove_photo"
    RENAME = "rename"
    MERGE = "merge"
    ERASE = "erase"
    REQUEUE = "requeue"
    CLUSTER_ENROL = "cluster_enrol"
    CLUSTER_IGNORE = "cluster_ignore"
    CLUSTER_REMOVE_FACE = "cluster_remove_face"
    UPLOAD = "upload"
    IMPORT = "import"
    RETRY_PASS = "retry_pass"


@dataclass(frozen=True)
class AuditRecord:
    id: int
    at: datetime
    actor: str
    action: str
    target: str
    details: dict[str, Any]


@dataclass(frozen=True)
class AuditEntry:
    """Who is making a write, handed to the writer (kubeface/people.py, kubeface/images/) so that it
    records it inside its own transaction; the writer adds the target and details only it knows."""

    actor: str
    action: AuditAction
    target: str | None = None  # None: the writer names it (say, the new person's id)
    details: Mapping[str, object] = field(default_factory=dict)

    def record(self, cur: Cursor, *, target: str | None = None, **details: object) -> None:
        chosen = target or self.target
        if chosen is None:
            raise ValueError(f"an audit record of {self.action.value} needs a target")
        record(cur, actor=self.actor, action=self.action, target=chosen, details={**self.details, **details})


def record(
    cur: Cursor, *, actor: str, action: AuditAction, target: str, details: Mapping[str, object]
) -> None:
    """Add one record inside the caller's transaction. `target` names what changed: `person:12`,
    `image:7`, `cluster:3`, `images:FAILED`."""
    cur.execute(
        "INSERT INTO audit_log (actor, action, target, details) VALUES (%s, %s, %s, %s)",
        (actor[:ACTOR_MAX], action.value, target[:TARGET_MAX], json.dumps(dict(details), default=str)),
    )


def read_records(
    db: Database,
    *,
    actor: str | None = None,
    action: str | None = None,
    target: str | None = None,
    before_id: int | None = None,
    limit: int = 100,
) -> list[AuditRecord]:
    """Newest first, filtered by exact actor, action and target; `before_id` pages back."""
    where: list[str] = []
    params: list[object] = []
    for column, value in (("actor", actor), ("action", action), ("target", target)):
        if value is not None:
            where.append(f"{column} = %s")
            params.append(value)
    if before_id is not None:
        where.append("id < %s")
        params.append(before_id)
    clause = f"WHERE {' AND '.join(where)}" if where else ""
    with db.transaction() as cur:
        cur.execute(
            "SELECT id, at, actor, action, target, details FROM audit_log"
            f" {clause} ORDER BY id DESC LIMIT %s",
            (*params, limit),
        )
        rows = cur.fetchall()
    return [
        AuditRecord(
            row["id"], row["at"], row["actor"], row["action"], row["target"], json.loads(row["details"])
        )
        for row in rows
    ]
