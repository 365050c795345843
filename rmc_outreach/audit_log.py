"""Reading the audit trail: filters by actor, action, object, outcome and local date range, a
page at a time, newest first.

Filters use the trail's indexes (``ix_audit_event_actor_occurred_at``,
``ix_audit_event_action_occurred_at``, ``ix_audit_event_object``, ``ix_audit_event_occurred_at``).
A page reads one row more than it shows to know whether another follows; nothing counts the
whole trail. What is shown passes through ``redact_numbers`` once more, so a number stored
before redaction existed is not shown either.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from rmc_outreach.models import AuditEvent, User
from rmc_outreach.redaction import redact_detail
from rmc_outreach.sign_in import user_actor
from rmc_outreach.skip_scan import distinct_values

PAGE_SIZE = 50
MAX_PAGE = 1000
MAX_FIELD = 100
MAX_ACTIONS = 500


class AuditFilterError(ValueError):
    """A filter that cannot be used; ``field`` names the form field."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


@dataclass(frozen=True)
class AuditFilter:
    """Validated filters; ``starts_at``/``ends_at`` are UTC bounds of the local days chosen."""

    actor: str | None = None
    action: str | None = None
    object_type: str | None = None
    object_id: str | None = None
    outcome: str | None = None
    date_from: date | None = None
    date_to: date | None = None
    starts_at: datetime | None = None
    ends_at: datetime | None = None
    page: int = 1


@dataclass(frozen=True)
class AuditRow:
    """One event as the log shows it."""

    id: int
    occurred_at: datetime
    actor: str
    action: str
    object_type: str | None
    object_id: str | None
    outcome: str
    detail: list[tuple[str, str]]


@dataclass(frozen=True)
class AuditPage:
    """A page of events and whether an older page follows."""

    rows: list[AuditRow]
    page: int
    has_next: bool


def _text(args: Mapping[str, str], name: str) -> str | None:
    value = " ".join(str(args.get(name) or "").split())
    if len(value) > MAX_FIELD:
        raise AuditFilterError(name, f"type at most {MAX_FIELD} characters")
    return value or None


def _day(args: Mapping[str, str], name: str) -> date | None:
    raw = str(args.get(name) or "").strip()
    if not raw:
        return None
    try:
        return date.fromisoformat(raw)
    except ValueError:
        raise AuditFilterError(name, "give a date such as 2026-11-27") from None


def parse_audit_filter(args: Mapping[str, str], timezone: str) -> AuditFilter:
    """Validate the filters from the query string; ``AuditFilterError`` names the field."""
    zone = ZoneInfo(timezone)
    date_from, date_to = _day(args, "from"), _day(args, "to")
    if date_from and date_to and date_from > date_to:
        raise AuditFilterError("to", "the end date must be on or after the start date")
    raw_page = str(args.get("page") or "1")
    if not raw_page.isdigit() or not 1 <= int(raw_page) <= MAX_PAGE:
        raise AuditFilterError("page", f"the page must be a number from 1 to {MAX_PAGE}")
    return AuditFilter(
        actor=_text(args, "actor"),
        action=_text(args, "action"),
        object_type=_text(args, "object_type"),
        object_id=_text(args, "object_id"),
        outcome=_text(args, "outcome"),
        date_from=date_from,
        date_to=date_to,
        starts_at=(
            datetime.combine(date_from, time(0), tzinfo=zone).astimezone(UTC) if date_from else None
        ),
        ends_at=(
            datetime.combine(date_to + timedelta(days=1), time(0), tzinfo=zone).astimezone(UTC)
            if date_to
            else None
        ),
        page=int(raw_page),
    )


def _actor_label(session: Session, actor: str) -> str:
    """A username stands for that user's label ("user 7"); anything else is a label itself
    ("system", "handler 3", "patient by sms")."""
    user_id = session.scalar(select(User.id).where(User.username == actor))
    return user_actor(user_id) if user_id is not None else actor


def audit_page(session: Session, chosen: AuditFilter) -> AuditPage:
    """One page of events matching ``chosen``, newest first."""
    query = select(AuditEvent, User.display_name, User.username).outerjoin(
        User, User.id == AuditEvent.actor_user_id
    )
    if chosen.actor is not None:
        query = query.where(AuditEvent.actor_label == _actor_label(session, chosen.actor))
    if chosen.action is not None:
        query = query.where(AuditEvent.action == chosen.action)
    if chosen.object_type is not None:
        query = query.where(AuditEvent.object_type == chosen.object_type)
    if chosen.object_id is not None:
        query = query.where(AuditEvent.object_id == chosen.object_id)
    if chosen.outcome is not None:
        query = query.where(AuditEvent.outcome == chosen.outcome)
    if chosen.starts_at is not None:
        query = query.where(AuditEvent.occurred_at >= chosen.starts_at)
    if chosen.ends_at is not None:
        query = query.where(AuditEvent.occurred_at < chosen.ends_at)
    query = (
        query.order_by(AuditEvent.occurred_at.desc(), AuditEvent.id.desc())
        .offset((chosen.page - 1) * PAGE_SIZE)
        .limit(PAGE_SIZE + 1)
    )
    rows = [_row(event, name, username) for event, name, username in session.execute(query)]
    return AuditPage(rows[:PAGE_SIZE], chosen.page, len(rows) > PAGE_SIZE)


def _describe(value: Any) -> str:
    if isinstance(value, dict):
        return ", ".join(f"{key}: {_describe(item)}" for key, item in value.items())
    if isinstance(value, list):
        return ", ".join(_describe(item) for item in value)
    return str(value)


def _row(event: AuditEvent, display_name: str | None, username: str | None) -> AuditRow:
    actor = event.actor_label
    if display_name:
        actor = f"{display_name} ({username}, {event.actor_label})"
    detail = redact_detail(event.detail) if isinstance(event.detail, dict) else {}
    return AuditRow(
        id=event.id,
        occurred_at=event.occurred_at,
        actor=actor,
        action=event.action,
        object_type=event.object_type,
        object_id=event.object_id,
        outcome=event.outcome,
        detail=[(str(key), _describe(value)) for key, value in detail.items()],
    )


def audit_actions(session: Session) -> list[str]:
    """Every action in the trail, in order: a skip scan of ``ix_audit_event_action_occurred_at``
    (one index probe per action), not a read of the trail."""
    return distinct_values(session, "audit_event", "action", MAX_ACTIONS)
