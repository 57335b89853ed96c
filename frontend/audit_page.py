"""The audit page: who did what, newest first, with filters and keyset paging (operators only)."""

from __future__ import annotations

from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, PlainTextResponse, Response

from frontend.pages import render
from frontend.params import BadParameter, optional_id
from frontend.state import FrontendState
from kubeface.audit import ACTOR_MAX, TARGET_MAX, AuditAction, read_records

router = APIRouter()

AUDIT_PAGE_SIZE = 100
NOT_AN_OPERATOR = (
    "the audit log names operators: it is shown to a signed-in operator only;"
    " set FRONTEND_USER and FRONTEND_PASSWORD to enable it"
)


def _filter(name: str, value: str, limit: int) -> str | None:
    if len(value) > limit:
        raise BadParameter(name, f"must be at most {limit} characters; got {len(value)}")
    return value.strip() or None


def _action(value: str) -> str | None:
    if value and value not in {action.value for action in AuditAction}:
        choices = ", ".join(action.value for action in AuditAction)
        raise BadParameter("action", f"must be one of {choices} (or empty for any)")
    return value or None


@router.get("/audit", response_class=HTMLResponse)
async def audit(
    request: Request, actor: str = "", action: str = "", target: str = "", before: str = ""
) -> Response:
    state: FrontendState = request.app.state.frontend
    # Without an operator login every page is open to anyone: this one must not be.
    if not state.operator:
        return PlainTextResponse(NOT_AN_OPERATOR, status_code=403)
    filters = {
        "actor": _filter("actor", actor, ACTOR_MAX),
        "action": _action(action),
        "target": _filter("target", target, TARGET_MAX),
    }
    found = await run_in_threadpool(
        read_records, state.db, **filters, before_id=optional_id("before", before), limit=AUDIT_PAGE_SIZE + 1
    )
    records = found[:AUDIT_PAGE_SIZE]
    shown = {name: value for name, value in filters.items() if value}
    older = None
    if len(found) > AUDIT_PAGE_SIZE:
        older = "/audit?" + urlencode({**shown, "before": records[-1].id})
    context = {
        "records": records,
        "filters": filters,
        "actions": [a.value for a in AuditAction],
        "older": older,
        "newest": "/audit?" + urlencode(shown) if before else None,
    }
    return render(request, "audit.html", context)
