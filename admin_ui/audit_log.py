"""The audit log viewer (``/audit``, admins only): filters, a page at a time, newest first.

Server-rendered; works without JavaScript. No clear phone number or NHS number is stored in the
trail, and what is shown passes through the redaction once more (``rmc_outreach.audit_log``).
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, render_template, request

from admin_ui.context import current_settings
from rmc_outreach.audit_log import AuditFilterError, audit_actions, audit_page, parse_audit_filter
from rmc_outreach.db import session_scope

blueprint = Blueprint("audit_log", __name__)


@blueprint.get("/audit")
def audit_log_page() -> tuple[str, int] | str:
    """The audit trail, filtered by actor, action, object, outcome and date range."""
    timezone = current_settings().timezone
    error = None
    chosen = None
    try:
        chosen = parse_audit_filter(request.args, timezone)
    except AuditFilterError as refused:
        error = refused
    with session_scope(read_only=True) as session:
        results = audit_page(session, chosen) if chosen is not None else None
        actions = audit_actions(session)
    context: dict[str, Any] = {
        "args": request.args,
        "results": results,
        "error": error,
        "actions": actions,
        "timezone": timezone,
    }
    page = render_template("audit_log.html", **context)
    return (page, 422) if error is not None else page
