"""A referral's history in one list, oldest first: what the service did and what people did.

Merged from the referral itself, its contact attempts, the provider's reports on them (type and
status only: never a message body or a number), handoffs to call handlers (wait, handler,
outcome, note), callback requests, and the audit trail about the referral, its patient, its
handoffs and its callback requests (who changed what, and why). Looks at the record
(``referral.view``) are left out of the list: ``recent_views`` gives them apart.

Each source is read with one query through an index on the referral (or on the audit event's
object), so a referral's page costs the same however large the tables grow.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session

from rmc_outreach.models import (
    AuditEvent,
    CallbackRequest,
    ContactAttempt,
    Handler,
    Handoff,
    ProviderEvent,
    Referral,
    User,
)
from rmc_outreach.phones import mask_phone
from rmc_outreach.redaction import redact_detail

VIEW_ACTION = "referral.view"
AUDIT_ENTRIES_SHOWN = 200
# Provider fields that say what happened, never what was said or to whom.
PROVIDER_STATUS_FIELDS = (
    "CallStatus",
    "MessageStatus",
    "SmsStatus",
    "DialCallStatus",
    "AnsweredBy",
    "QueueResult",
)
ACTION_TITLES = {
    "referral.pause": "Outreach paused for this referral",
    "referral.resume": "Outreach resumed for this referral",
    "referral.booked": "Marked booked",
    "referral.declined": "Marked declined",
    "referral.reveal": "Identifier revealed",
    "patient.do_not_contact": "Patient asked not to be contacted",
    "patient.preferences": "Contact preferences changed",
    "handoff.outcome": "Handler recorded an outcome",
    "callback.outcome": "Call back worked",
    "callback.claim": "Call back claimed",
    "callback.release": "Call back released",
    "sms_opt_out": "Opted out of texts",
    "sms_opt_in": "Opted back in to texts",
    "console.screen_pop": "Shown to a handler",
}


@dataclass(frozen=True)
class TimelineEntry:
    """One thing that happened: when, what, the facts as (label, value) pairs, a note."""

    at: datetime
    kind: str  # referral, attempt, provider_event, handoff, callback, audit
    title: str
    facts: list[tuple[str, str]] = field(default_factory=list)
    note: str | None = None
    actor: str | None = None


def _words(value: object) -> str:
    return str(value).replace("_", " ")


def _fact(facts: list[tuple[str, str]], label: str, value: object) -> None:
    if value is not None and value != "":
        facts.append((label, _words(value) if isinstance(value, str) else str(value)))


def _attempt_entries(attempts: list[ContactAttempt]) -> list[TimelineEntry]:
    entries = []
    for attempt in attempts:
        facts: list[tuple[str, str]] = []
        _fact(facts, "State", attempt.state.value)
        _fact(facts, "Outcome", attempt.outcome.value if attempt.outcome else None)
        _fact(facts, "Answered by", attempt.answered_by)
        _fact(facts, "Keypad", attempt.keypad_choice)
        _fact(facts, "Message", attempt.template)
        _fact(facts, "To", mask_phone(attempt.destination) if attempt.destination else None)
        _fact(facts, "Rang (s)", attempt.ring_seconds)
        _fact(facts, "Lasted (s)", attempt.duration_seconds)
        _fact(facts, "Why not sent", attempt.error_reason)
        channel = {"call": "Call", "sms": "Text", "letter": "Letter"}[attempt.channel.value]
        entries.append(
            TimelineEntry(
                at=attempt.started_at or attempt.claimed_at or attempt.created_at,
                kind="attempt",
                title=f"{channel} (step {attempt.step})",
                facts=facts,
            )
        )
    return entries


def _provider_entries(session: Session, attempt_ids: list[uuid.UUID]) -> list[TimelineEntry]:
    if not attempt_ids:
        return []
    rows = session.execute(
        select(ProviderEvent.kind, ProviderEvent.received_at, ProviderEvent.payload)
        .where(ProviderEvent.attempt_id.in_(attempt_ids))
        .order_by(ProviderEvent.received_at, ProviderEvent.id)
    ).all()
    entries = []
    for kind, received_at, payload in rows:
        facts: list[tuple[str, str]] = []
        for name in PROVIDER_STATUS_FIELDS:
            value = payload.get(name) if isinstance(payload, dict) else None
            if isinstance(value, str) and value:
                _fact(facts, name, value)
        entries.append(
            TimelineEntry(
                at=received_at, kind="provider_event", title=f"Provider: {kind}", facts=facts
            )
        )
    return entries


def _seconds_between(start: datetime | None, end: datetime | None) -> int | None:
    if start is None or end is None:
        return None
    return max(0, int((end - start).total_seconds()))


def _handoff_entries(session: Session, referral_id: int) -> tuple[list[TimelineEntry], list[int]]:
    rows = session.execute(
        select(Handoff, Handler.display_name)
        .outerjoin(Handler, Handler.id == Handoff.handler_id)
        .where(Handoff.referral_id == referral_id)
        .order_by(Handoff.queued_at, Handoff.id)
    ).all()
    entries = []
    for handoff, handler_name in rows:
        facts: list[tuple[str, str]] = []
        _fact(facts, "Source", handoff.source)
        waited = _seconds_between(handoff.queued_at, handoff.connected_at or handoff.ended_at)
        _fact(facts, "Waited (s)", waited)
        _fact(facts, "Handler", handler_name)
        _fact(facts, "Talked (s)", handoff.talk_seconds)
        _fact(facts, "Ended", handoff.ended_reason)
        _fact(facts, "Abandoned", "yes" if handoff.abandoned else None)
        _fact(facts, "Outcome", handoff.outcome)
        entries.append(
            TimelineEntry(
                at=handoff.queued_at,
                kind="handoff",
                title="Handed to the booking team",
                facts=facts,
                note=handoff.note,
            )
        )
    return entries, [handoff.id for handoff, _ in rows]


def _callback_entries(session: Session, referral_id: int) -> tuple[list[TimelineEntry], list[int]]:
    rows = session.execute(
        select(CallbackRequest, Handler.display_name)
        .outerjoin(Handler, Handler.id == CallbackRequest.claimed_by_handler_id)
        .where(CallbackRequest.referral_id == referral_id)
        .order_by(CallbackRequest.created_at, CallbackRequest.id)
    ).all()
    entries = []
    for request, handler_name in rows:
        facts: list[tuple[str, str]] = []
        _fact(facts, "Why", request.reason)
        _fact(
            facts, "Due", request.due_at.isoformat(timespec="minutes") if request.due_at else None
        )
        _fact(facts, "Claimed by", handler_name)
        _fact(facts, "Outcome", request.outcome)
        _fact(facts, "Done", "yes" if request.completed_at else "not yet")
        entries.append(
            TimelineEntry(
                at=request.created_at, kind="callback", title="Call back requested", facts=facts
            )
        )
    return entries, [request.id for request, _ in rows]


def actor_name(label: str, display_name: str | None) -> str:
    """How an audit event's actor reads on a page: the user's name, else the label."""
    return f"{display_name} ({label})" if display_name else label


def _detail_facts(detail: Any) -> tuple[list[tuple[str, str]], str | None]:
    facts: list[tuple[str, str]] = []
    note = None
    if not isinstance(detail, dict):
        return facts, note
    for key, value in redact_detail(detail).items():
        if key == "reason" and isinstance(value, str):
            note = value
        elif key == "changed" and isinstance(value, dict):
            for name, change in value.items():
                if isinstance(change, list) and len(change) == 2:
                    facts.append((_words(name), f"{change[0]} → {change[1]}"))
        elif value is not None and not isinstance(value, dict | list):
            facts.append((_words(key), str(value)))
    return facts, note


def _about_this_referral(
    referral: Referral, handoff_ids: list[int], callback_ids: list[int]
) -> Any:
    objects = [
        and_(AuditEvent.object_type == "referral", AuditEvent.object_id == str(referral.id)),
        and_(AuditEvent.object_type == "patient", AuditEvent.object_id == str(referral.patient_id)),
    ]
    if handoff_ids:
        objects.append(
            and_(
                AuditEvent.object_type == "handoff",
                AuditEvent.object_id.in_([str(i) for i in handoff_ids]),
            )
        )
    if callback_ids:
        objects.append(
            and_(
                AuditEvent.object_type == "callback_request",
                AuditEvent.object_id.in_([str(i) for i in callback_ids]),
            )
        )
    return or_(*objects)


def _audit_entries(session: Session, condition: Any) -> list[TimelineEntry]:
    rows = session.execute(
        select(AuditEvent, User.display_name)
        .outerjoin(User, User.id == AuditEvent.actor_user_id)
        .where(condition, AuditEvent.action != VIEW_ACTION)
        .order_by(AuditEvent.occurred_at.desc(), AuditEvent.id.desc())
        .limit(AUDIT_ENTRIES_SHOWN)
    ).all()
    entries = []
    for event, display_name in rows:
        facts, note = _detail_facts(event.detail)
        facts.insert(0, ("Result", _words(event.outcome)))
        entries.append(
            TimelineEntry(
                at=event.occurred_at,
                kind="audit",
                title=ACTION_TITLES.get(event.action, _words(event.action).capitalize()),
                facts=facts,
                note=note,
                actor=actor_name(event.actor_label, display_name),
            )
        )
    return entries


KIND_ORDER = {
    "referral": 0,
    "attempt": 1,
    "provider_event": 2,
    "handoff": 3,
    "callback": 4,
    "audit": 5,
}


def referral_timeline(session: Session, referral: Referral) -> list[TimelineEntry]:
    """Everything that happened to ``referral``, oldest first (module docstring)."""
    attempts = list(
        session.scalars(
            select(ContactAttempt)
            .where(ContactAttempt.referral_id == referral.id)
            .order_by(ContactAttempt.created_at, ContactAttempt.step)
        )
    )
    handoffs, handoff_ids = _handoff_entries(session, referral.id)
    callbacks, callback_ids = _callback_entries(session, referral.id)
    received = TimelineEntry(
        at=referral.created_at,
        kind="referral",
        title="Referral received",
        facts=[("Priority", referral.priority.value), ("Specialty", referral.specialty)],
    )
    entries = [
        received,
        *_attempt_entries(attempts),
        *_provider_entries(session, [attempt.id for attempt in attempts]),
        *handoffs,
        *callbacks,
        *_audit_entries(session, _about_this_referral(referral, handoff_ids, callback_ids)),
    ]
    entries.sort(key=lambda entry: (entry.at, KIND_ORDER[entry.kind]))
    return entries


@dataclass(frozen=True)
class RecentView:
    """One look at the referral's page."""

    at: datetime
    actor: str


def recent_views(session: Session, referral_id: int, limit: int = 10) -> list[RecentView]:
    """The latest looks at this referral's page, newest first."""
    rows = session.execute(
        select(AuditEvent.occurred_at, AuditEvent.actor_label, User.display_name)
        .outerjoin(User, User.id == AuditEvent.actor_user_id)
        .where(
            AuditEvent.object_type == "referral",
            AuditEvent.object_id == str(referral_id),
            AuditEvent.action == VIEW_ACTION,
        )
        .order_by(AuditEvent.occurred_at.desc(), AuditEvent.id.desc())
        .limit(limit)
    ).all()
    return [RecentView(at, actor_name(label, name)) for at, label, name in rows]
