"""Writing the append-only audit trail."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from rmc_outreach.models import AuditEvent
from rmc_outreach.redaction import redact_detail


def record_audit_event(
    session: Session,
    *,
    actor_label: str,
    action: str,
    outcome: str,
    object_type: str | None = None,
    object_id: str | int | None = None,
    actor_user_id: int | None = None,
    detail: dict[str, Any] | None = None,
) -> AuditEvent:
    """Add an audit event to the session's transaction. ``detail`` must hold no personal data;
    as a last line of defence, number-like runs in its text (a phone or NHS number pasted into
    a reason) are replaced before it is stored (``rmc_outreach.redaction``)."""
    event = AuditEvent(
        actor_label=actor_label,
        actor_user_id=actor_user_id,
        action=action,
        outcome=outcome,
        object_type=object_type,
        object_id=None if object_id is None else str(object_id),
        detail=redact_detail(detail or {}),
    )
    session.add(event)
    return event
