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

import functools
import logging
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, cast

from sqlalchemy import CursorResult, Insert, Select, Table, Update, bindparam, select, update
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
    ProviderEvent,
    Referral,
)

log = logging.getLogger(__name__)


# Twilio refuses texts to a number that sent it STOP (error 21610): we record the opt-out too.
SMS_OPTED_OUT_ERROR = 21610
PROVIDER_OPT_OUT = "provider_21610"
PROVIDER_OPT_OUT_ACTOR = "twilio opt-out list"


class EventKind:
    """The kinds of provider event we store (``provider_event.kind``)."""

    CALL_ANSWER = "call-answer"
    CALL_STATUS = "call-status"
    CALL_AMD = "call-amd"
    CALL_CHOICE = "call-choice"
    CALL_QUEUE_LEAVE = "call-queue-leave"
    SMS_STATUS = "sms-status"
    SMS_INBOUND = "sms-inbound"
    # The ACD (``rmc_outreach.acd``): a patient's wait in their queue, and each handler leg.
    HANDOFF_LEAVE = "handoff-leave"
    HANDOFF_CALLBACK_CHOICE = "handoff-callback-choice"
    HANDOFF_RESULT = "handoff-result"
    OFFER_ANSWER = "offer-answer"
    OFFER_BRIDGED = "offer-bridged"
    OFFER_DIAL_END = "offer-dial-end"
    OFFER_STATUS = "offer-status"
    CALL_INBOUND = "call-inbound"


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


def settle_call(session: Session, attempt: ContactAttempt | uuid.UUID) -> None:
    """Make the call attempt final (or raise its outcome) from the facts recorded so far.

    Pass the attempt loaded in this transaction (under its referral's lock) or its id.
    """
    if not isinstance(attempt, ContactAttempt):
        attempt = attempts.get(session, attempt)
    outcome = call_outcome(attempt)
    if outcome is None:
        return
    if attempt.state is not AttemptState.FINAL:
        attempts.finish(session, attempt.id, outcome, ended_at=attempt.ended_at)
    elif attempt.outcome is not None and _rank(outcome) > _rank(attempt.outcome):
        attempts.raise_outcome(session, attempt.id, attempt.outcome, outcome)


def needs_prompt_apply(kind: str, payload: Mapping[str, Any]) -> bool:
    """Whether a stored callback must be applied by a task of its own at once.

    Callbacks that only record a fact and act on nothing (the call was answered; a person, not
    a machine, answered; the options ended with no key or a key we do not offer, so they are
    read again; an SMS is on its way) wait: the next callback of the same attempt that
    does need applying applies them first, in the order received (``apply_event``), and the
    sweeper applies any left over. A call always ends with a final status callback (or the
    sweeper's fetch), so nothing waits for ever, and a call costs a task per decision, not per
    callback.
    """
    if kind == EventKind.CALL_ANSWER:
        return False
    if kind == EventKind.CALL_STATUS:
        return str(payload.get("CallStatus") or "") in FINAL_CALL_STATUSES
    if kind == EventKind.CALL_AMD:
        return str(payload.get("AnsweredBy") or "") in MACHINE_ANSWERS
    if kind == EventKind.CALL_CHOICE:
        return str(payload.get("Digits") or "").strip() in CHOICE_OUTCOMES
    if kind == EventKind.SMS_STATUS:
        status = payload.get("MessageStatus") or payload.get("SmsStatus") or ""
        return str(status) in FINAL_SMS_STATUSES
    return True


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
    statement = _record_statement(session.get_bind().dialect.name)
    event_id: int | None = session.execute(statement, values).scalar()
    if event_id is None:
        log.info("provider event %s already stored: replay ignored", kind)
    return event_id


@functools.cache
def _record_statement(dialect: str) -> Insert:
    """The insert of one callback, skipping a key already stored (built once per dialect: only
    its values change; a Core insert, as no ORM object is involved)."""
    insert = postgresql_insert if dialect == "postgresql" else sqlite_insert
    table = cast(Table, ProviderEvent.__table__)
    return insert(table).on_conflict_do_nothing(index_elements=["event_key"]).returning(table.c.id)


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
    """Work an applied event leaves for after its transaction: SMS to send, calls to redirect,
    handler calls to stop ringing, whether to offer waiting patients to handlers now, and
    whether pacing may start more calls now (``pace_now``): an outbound call was settled as one
    that brings no patient to a handler (a machine answered, another key was pressed, or the
    call ended), or a handler's call ended (a handler in wrap-up counts as free soon)."""

    sms_attempt_ids: list[uuid.UUID] = field(default_factory=list)
    machine_answers: list[MachineAnswer] = field(default_factory=list)
    hang_up_calls: list[str] = field(default_factory=list)
    connect_handlers: bool = False
    pace_now: bool = False


def _int(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def apply_sms_status(session: Session, attempt: ContactAttempt, payload: Mapping[str, Any]) -> None:
    """Delivery report: final on delivered/undelivered/failed; a 21610 records the opt-out."""
    status = str(payload.get("MessageStatus") or payload.get("SmsStatus") or "")
    attempts.record_facts(session, attempt, {"provider_sid": payload.get("MessageSid")})
    outcome = FINAL_SMS_STATUSES.get(status)
    if outcome is None:
        return
    error_code = _int(payload.get("ErrorCode"))
    attempts.record_facts(session, attempt, {"provider_status": status})
    attempts.finish(
        session,
        attempt.id,
        outcome,
        error_reason=f"provider_error_{error_code}" if error_code else None,
    )
    if error_code == SMS_OPTED_OUT_ERROR and attempt.destination:
        from rmc_outreach.inbound_sms import set_sms_opt_out

        set_sms_opt_out(
            session,
            attempt.destination,
            opted_out=True,
            source=PROVIDER_OPT_OUT,
            actor_label=PROVIDER_OPT_OUT_ACTOR,
        )


@dataclass(frozen=True)
class StoredEvent:
    """A stored event taken for applying in this transaction."""

    id: int
    kind: str
    attempt_id: uuid.UUID | None
    payload: dict[str, Any]
    received_at: datetime


@functools.cache
def _claim_query(by_attempt: bool) -> Update:
    """Mark an event (``claim_event_id``), or every event of an attempt (``claim_attempt_id``),
    applied if it was not, returning what it claimed (built once: only its values change)."""
    condition = (
        ProviderEvent.attempt_id == bindparam("claim_attempt_id")
        if by_attempt
        else ProviderEvent.id == bindparam("claim_event_id")
    )
    return (
        update(ProviderEvent)
        .where(ProviderEvent.processed_at.is_(None), condition)
        .values(processed_at=bindparam("claim_at", type_=ProviderEvent.processed_at.type))
        .returning(
            ProviderEvent.id,
            ProviderEvent.kind,
            ProviderEvent.attempt_id,
            ProviderEvent.payload,
            ProviderEvent.received_at,
        )
        .execution_options(synchronize_session=False)
    )


def _claim_events(
    session: Session, *, event_id: int | None = None, attempt_id: uuid.UUID | None = None
) -> list[StoredEvent]:
    """Mark the unapplied event ``event_id``, or those of ``attempt_id``, applied; returns them
    in arrival order."""
    parameters = (
        {"claim_attempt_id": attempt_id} if attempt_id is not None else {"claim_event_id": event_id}
    )
    rows = session.execute(
        _claim_query(attempt_id is not None), {**parameters, "claim_at": now()}
    ).all()
    return sorted((StoredEvent(*row) for row in rows), key=lambda event: event.id)


@functools.cache
def _owner_query() -> Select[uuid.UUID, datetime | None]:
    """The attempt an event belongs to, its referral locked, and whether the event was applied
    (built once: only the event id changes)."""
    return (
        select(ContactAttempt.id, ProviderEvent.processed_at)
        .join(Referral, Referral.id == ContactAttempt.referral_id)
        .join(ProviderEvent, ProviderEvent.attempt_id == ContactAttempt.id)
        .where(ProviderEvent.id == bindparam("event_id"))
        .with_for_update(of=Referral)
    )


def apply_event(event_id: int) -> tuple[FollowUps, bool]:
    """Apply a stored event once, in its own transaction, with every earlier event of the same
    attempt still waiting (``needs_prompt_apply``); returns the follow-ups and whether the event
    was applied now (False: it had been applied already, a duplicate task)."""
    from rmc_outreach import call_events, inbound_sms
    from rmc_outreach.acd.apply import HANDOFF_EVENT_KINDS, apply_handoff_event

    follow_ups = FollowUps()
    with session_scope() as session:
        owner = session.execute(_owner_query(), {"event_id": event_id}).first()
        # This task's own event first: if another task applied it already, claim nothing (a
        # duplicate must not take a later callback of the attempt and leave it unapplied).
        # Most often the task that applied it (with the attempt's other waiting callbacks)
        # committed before this read, which shows it; else the claim finds it taken.
        applied_already = owner is not None and owner.processed_at is not None
        claimed = [] if applied_already else _claim_events(session, event_id=event_id)
        if not claimed:
            log.info("provider event %s already applied", event_id)
            return follow_ups, False
        if owner is not None:  # the referral's lock is taken first, as by every writer
            waiting = _claim_events(session, attempt_id=owner.id)
            claimed = sorted([*claimed, *waiting], key=lambda event: event.id)
        attempt: ContactAttempt | None = None
        for event in claimed:
            if event.kind == EventKind.SMS_INBOUND:
                inbound_sms.apply_reply(session, event)
                continue
            if event.kind in HANDOFF_EVENT_KINDS:
                apply_handoff_event(session, event, follow_ups)
                continue
            if event.attempt_id is None:
                continue
            attempt = attempt or attempts.get(session, event.attempt_id)
            if attempt.channel is Channel.SMS:
                apply_sms_status(session, attempt, event.payload)
            elif attempt.channel is Channel.CALL:
                call_events.apply_call_event(session, event, attempt, follow_ups)
    return follow_ups, True
