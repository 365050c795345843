"""Provider events: stored once by the webhook, applied once by a task.

The webhook validates the signature, stores the callback under a unique ``event_key`` (a replay
finds the key taken and stores nothing), answers, and enqueues ``apply-provider-event`` with the
event id after its transaction commits. The task applies it:

- every callback only *records facts* on the attempt (status, answered by, keypad choice,
  durations), each fact written once (``attempts.annotate``);
- the attempt's outcome is a pure function of its facts (``call_outcome``), and the attempt
  becomes final as soon as a final call status is known. A fact that arrives after that can only
  raise the outcome along ``OUTCOME_PRECEDENCE`` (e.g. an AMD result delivered after
  ``completed``), so whatever order callbacks arrive in, duplicated or not, the attempt ends in
  the same state with the same outcome;
- side effects (reaching the patient, queueing the how-to-book SMS, leaving the voicemail) run
  only for the callback that first recorded the fact that causes them.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass, field
from typing import Any, cast

from sqlalchemy import CursorResult, update
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from rmc_outreach import attempts
from rmc_outreach.clock import now
from rmc_outreach.db import session_scope
from rmc_outreach.models import (
    AttemptOutcome,
    AttemptState,
    Channel,
    ContactAttempt,
    Patient,
    ProviderEvent,
)

log = logging.getLogger(__name__)


class EventKind:
    """The kinds of provider event we store (``provider_event.kind``)."""

    CALL_ANSWER = "call-answer"
    CALL_STATUS = "call-status"
    CALL_AMD = "call-amd"
    CALL_CHOICE = "call-choice"
    CALL_QUEUE_LEAVE = "call-queue-leave"
    SMS_STATUS = "sms-status"
    SMS_INBOUND = "sms-inbound"


def call_status_key(call_sid: str, status: str, sequence: str) -> str:
    """Key of a call progress callback (the sweeper's reconciled reads use sequence 'fetched')."""
    return f"call-status:{call_sid}:{status}:{sequence}"


def sms_status_key(message_sid: str, status: str) -> str:
    """Key of an SMS delivery report (the sweeper's fetched reports use the same key, so the
    webhook and the fetch never both apply)."""
    return f"sms-status:{message_sid}:{status}"


def amd_key(call_sid: str) -> str:
    """Key of the (single) answering-machine detection result of a call."""
    return f"amd:{call_sid}"


FINAL_CALL_STATUSES: dict[str, AttemptOutcome] = {
    "completed": AttemptOutcome.NO_ANSWER,  # answered, but nobody chose or heard a message
    "busy": AttemptOutcome.BUSY,
    "no-answer": AttemptOutcome.NO_ANSWER,
    "failed": AttemptOutcome.FAILED,
    "canceled": AttemptOutcome.CANCELED,
}
FINAL_SMS_STATUSES: dict[str, AttemptOutcome] = {
    "delivered": AttemptOutcome.DELIVERED,
    "undelivered": AttemptOutcome.UNDELIVERED,
    "failed": AttemptOutcome.FAILED,
}
MACHINE_ANSWERS = frozenset(
    {"machine_start", "machine_end_beep", "machine_end_silence", "machine_end_other"}
)
CHOICE_OUTCOMES = {"1": AttemptOutcome.HUMAN_HANDOFF, "2": AttemptOutcome.IVR_CHOICE}
CHOICE_OUTCOMES["3"] = AttemptOutcome.IVR_CHOICE

# Weakest first. An outcome only ever moves up this list.
OUTCOME_PRECEDENCE = (
    AttemptOutcome.CANCELED,
    AttemptOutcome.FAILED,
    AttemptOutcome.BUSY,
    AttemptOutcome.NO_ANSWER,
    AttemptOutcome.MACHINE_NO_MESSAGE,
    AttemptOutcome.VOICEMAIL_LEFT,
    AttemptOutcome.IVR_CHOICE,
    AttemptOutcome.HUMAN_HANDOFF,
)


def call_outcome(attempt: ContactAttempt) -> AttemptOutcome | None:
    """The outcome of a call from its facts; None while no final call status is known."""
    if attempt.provider_status not in FINAL_CALL_STATUSES:
        return None
    if attempt.keypad_choice in CHOICE_OUTCOMES:
        return CHOICE_OUTCOMES[attempt.keypad_choice]
    if attempt.answered_by in MACHINE_ANSWERS:
        if attempt.voicemail_at is not None:
            return AttemptOutcome.VOICEMAIL_LEFT
        return AttemptOutcome.MACHINE_NO_MESSAGE
    return FINAL_CALL_STATUSES[attempt.provider_status]


def _rank(outcome: AttemptOutcome | None) -> int:
    return OUTCOME_PRECEDENCE.index(outcome) if outcome in OUTCOME_PRECEDENCE else -1


def settle_call(session: Session, attempt_id: uuid.UUID) -> None:
    """Make the call attempt final (or raise its outcome) from the facts recorded so far."""
    attempt = attempts.get(session, attempt_id)
    outcome = call_outcome(attempt)
    if outcome is None:
        return
    if attempt.state is not AttemptState.FINAL:
        attempts.finish(session, attempt_id, outcome, ended_at=attempt.ended_at)
    elif attempt.outcome is not None and _rank(outcome) > _rank(attempt.outcome):
        attempts.raise_outcome(session, attempt_id, attempt.outcome, outcome)


def record_event(
    session: Session,
    *,
    event_key: str,
    kind: str,
    payload: dict[str, Any],
    attempt_id: uuid.UUID | None = None,
    provider_sid: str | None = None,
) -> int | None:
    """Store a callback once; returns its id, or None when the key was already stored (replay)."""
    values = {
        "event_key": event_key[:200],
        "kind": kind,
        "payload": payload,
        "attempt_id": attempt_id,
        "provider_sid": provider_sid,
        "received_at": now(),
    }
    insert = postgresql_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    statement = (
        insert(ProviderEvent)
        .values(**values)
        .on_conflict_do_nothing(index_elements=["event_key"])
        .returning(ProviderEvent.id)
    )
    event_id: int | None = session.execute(statement).scalar()
    if event_id is None:
        log.info("provider event %s already stored: replay ignored", kind)
    return event_id


def mark_processed(session: Session, event_id: int) -> bool:
    """Claim an event for applying: True once, for the first task that gets it."""
    result = session.execute(
        update(ProviderEvent)
        .where(ProviderEvent.id == event_id, ProviderEvent.processed_at.is_(None))
        .values(processed_at=now())
    )
    return cast(CursorResult[Any], result).rowcount == 1


@dataclass(frozen=True)
class MachineAnswer:
    """A machine answered a live call: leave the voicemail (or hang up when not allowed)."""

    attempt_id: uuid.UUID
    call_sid: str
    leave_voicemail: bool


@dataclass
class FollowUps:
    """Work an applied event leaves for after its transaction: SMS to send, calls to redirect."""

    sms_attempt_ids: list[uuid.UUID] = field(default_factory=list)
    machine_answers: list[MachineAnswer] = field(default_factory=list)


def _int(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def apply_sms_status(session: Session, event: ProviderEvent) -> None:
    """Delivery report: final on delivered/undelivered/failed; a 21610 records the opt-out."""
    if event.attempt_id is None:
        return
    status = str(event.payload.get("MessageStatus") or event.payload.get("SmsStatus") or "")
    attempts.annotate(session, event.attempt_id, provider_sid=event.payload.get("MessageSid"))
    outcome = FINAL_SMS_STATUSES.get(status)
    if outcome is None:
        return
    error_code = _int(event.payload.get("ErrorCode"))
    attempts.annotate(session, event.attempt_id, provider_status=status)
    attempts.finish(
        session,
        event.attempt_id,
        outcome,
        error_reason=f"provider_error_{error_code}" if error_code else None,
    )
    if error_code == 21610:
        attempt = attempts.get(session, event.attempt_id)
        session.execute(
            update(Patient)
            .where(Patient.mobile_phone == attempt.destination, Patient.sms_opted_out_at.is_(None))
            .values(sms_opted_out_at=now(), sms_opt_out_source="provider_21610")
        )


def apply_event(event_id: int) -> tuple[FollowUps, bool]:
    """Apply a stored event once, in its own transaction; returns its follow-ups and whether it
    was applied now (False: it had been applied already, a duplicate task)."""
    from rmc_outreach import call_events, inbound_sms

    follow_ups = FollowUps()
    with session_scope() as session:
        if not mark_processed(session, event_id):
            log.info("provider event %s already applied", event_id)
            return follow_ups, False
        event = session.get_one(ProviderEvent, event_id)
        if event.attempt_id is not None:
            attempts.lock_referral_of(session, event.attempt_id)
        if event.kind == EventKind.SMS_STATUS:
            apply_sms_status(session, event)
        elif event.kind == EventKind.SMS_INBOUND:
            inbound_sms.apply_reply(session, event)
        elif event.attempt_id is not None:
            attempt = attempts.get(session, event.attempt_id)
            if attempt.channel is Channel.CALL:
                call_events.apply_call_event(session, event, attempt, follow_ups)
    return follow_ups, True
