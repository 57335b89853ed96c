"""GET /audit: who did what, newest first, for operators (the frontend's page reads the same table).

It names operators, so unlike the other reads it needs the API token (receiver/app.py)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request

from kubeface.audit import ACTOR_MAX, TARGET_MAX, AuditAction, read_records
from receiver.state import ReceiverState

router = APIRouter(tags=["audit"])

AUDIT_PAGE_MAX = 500


@router.get("/audit")
def get_audit(
    request: Request,
    actor: Annotated[str | None, Query(min_length=1, max_length=ACTOR_MAX)] = None,
    action: AuditAction | None = None,
    target: Annotated[str | None, Query(min_length=1, max_length=TARGET_MAX)] = None,
    before: Annotated[int | None, Query(ge=1, description="an id from `next_before`: the page after")] = None,
    limit: Annotated[int, Query(ge=1, le=AUDIT_PAGE_MAX)] = 100,
) -> dict:
    """Audit records, newest first, filtered by exact actor, action and target; page back with
    `before` = the answer's `next_before` (null on the last page)."""
    state: ReceiverState = request.app.state.receiver
    # One more than asked: whether an older page exists, without a count.
    found = read_records(
        state.db,
        actor=actor,
        action=action.value if action else None,
        target=target,
        before_id=before,
        limit=limit + 1,
    )
    page = found[:limit]
    return {
        "records": [
            {
                "id": r.id,
                "at": r.at.isoformat(),
                "actor": r.actor,
                "action": r.action,
                "target": r.target,
                "details": r.details,
            }
            for r in page
        ],
        "next_before": page[-1].id if len(found) > limit else None,
    }
