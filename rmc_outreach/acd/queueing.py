"""The patient's side of the queue, decided in the web request that answers Twilio.

A handoff is created in the request that returns the ``<Enqueue>`` (its id names the queue and
the URLs): for an outbound call when the patient presses 1 (get-or-create by attempt, so the
event task finds the same row), for an inbound call when it arrives (get-or-create by call sid).
A waiting patient leaves the queue in one conditional UPDATE (``close_waiting``): nobody in time,
or they chose a callback. The callback request is made in the same transaction, so it is made
exactly once, by whichever request ended the wait.
"""

from __future__ import annotations

import logging
import uuid
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import ColumnElement, CursorResult, and_, func, or_, select, update
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from rmc_outreach.clock import now
from rmc_outreach.models import (
    OPEN_REFERRAL_STATUSES,
    CallbackRequest,
    ContactAttempt,
    Handoff,
    HandoffEndReason,
    HandoffSource,
    Patient,
    Referral,
    ReferralStatus,
)

log = logging.getLogger(__name__)

# No patient waits this long: bounds the reads of ``ix_handoff_queued_at``.
LONGEST_WAIT = timedelta(hours=1)
NO_HANDLER_REASON = "no_handler"  # as call_events.NO_HANDLER_REASON
PATIENT_ASKED_REASON = "patient_asked_in_queue"
ABANDONED_REASONS = frozenset(
    {HandoffEndReason.ABANDONED_TIMEOUT, HandoffEndReason.ABANDONED_HANGUP}
)
RECOGNISED_STATUSES = (*OPEN_REFERRAL_STATUSES, ReferralStatus.REACHED)


def waiting() -> ColumnElement[bool]:
    """The condition on ``Handoff``: a patient in a queue, not yet taken, not gone."""
    return and_(
        Handoff.connected_at.is_(None),
        Handoff.ended_at.is_(None),
        Handoff.source != HandoffSource.CALLBACK,
    )


def _insert_handoff(session: Session, values: dict[str, Any]) -> int | None:
    insert = postgresql_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    statement = insert(Handoff).values(**values).on_conflict_do_nothing().returning(Handoff.id)
    handoff_id: int | None = session.execute(statement).scalar()
    return handoff_id


def outbound_handoff(session: Session, attempt_id: uuid.UUID, call_sid: str) -> int | None:
    """The handoff of an outbound call whose patient asked for the booking team (created now
    unless it exists); None when we never made this attempt."""
    existing = session.scalar(select(Handoff.id).where(Handoff.attempt_id == attempt_id))
    if existing is not None:
        return existing
    referral_id = session.scalar(
        select(ContactAttempt.referral_id).where(ContactAttempt.id == attempt_id)
    )
    if referral_id is None:
        return None
    created = _insert_handoff(
        session,
        {
            "attempt_id": attempt_id,
            "referral_id": referral_id,
            "source": HandoffSource.OUTBOUND.value,
            "call_sid": call_sid or None,
            "queued_at": now(),
            "abandoned": False,
        },
    )
    if created is None:  # another request or the event task made it first
        created = session.scalar(select(Handoff.id).where(Handoff.attempt_id == attempt_id))
    log.info("attempt %s queued for a handler as handoff %s", attempt_id, created)
    return created


def recognise_caller(session: Session, number: str) -> int | None:
    """The referral of an inbound caller: when exactly one patient with this number has an open
    (or reached, not yet booked) referral, that patient's most recently contacted such referral;
    otherwise None (unknown or ambiguous callers are queued without a referral)."""
    if not number:
        return None
    candidates = session.execute(
        select(Referral.id, Referral.patient_id)
        .join(Patient, Patient.id == Referral.patient_id)
        .where(
            or_(Patient.mobile_phone == number, Patient.landline_phone == number),
            Referral.status.in_(RECOGNISED_STATUSES),
        )
        .order_by(Referral.last_contact_at.desc().nulls_last(), Referral.id.desc())
    ).all()
    if len({row.patient_id for row in candidates}) != 1:
        return None
    referral_id: int = candidates[0].id
    return referral_id


def inbound_handoff(session: Session, call_sid: str, caller: str) -> tuple[int, bool]:
    """The handoff of an inbound call (created now unless a replay finds it); returns its id and
    whether it was created by this request."""
    existing = session.scalar(select(Handoff.id).where(Handoff.call_sid == call_sid))
    if existing is not None:
        return existing, False
    referral_id = recognise_caller(session, caller)
    created = _insert_handoff(
        session,
        {
            "referral_id": referral_id,
            "source": HandoffSource.INBOUND.value,
            "call_sid": call_sid,
            "caller_number": caller[:16] or None,
            "queued_at": now(),
            "abandoned": False,
        },
    )
    if created is None:
        found = session.scalar(select(Handoff.id).where(Handoff.call_sid == call_sid))
        if found is None:
            raise RuntimeError("inbound handoff neither created nor found")
        return found, False
    log.info("inbound call queued as handoff %s (recognised: %s)", created, referral_id is not None)
    return created, True


def position(session: Session, handoff_id: int, *, at: datetime | None = None) -> int | None:
    """The patient's place in the queue (1: next), from our own order; None when the handoff
    is not waiting any more (or does not exist)."""
    mine = session.execute(
        select(Handoff.queued_at, Handoff.id).where(Handoff.id == handoff_id, waiting())
    ).first()
    if mine is None:
        return None
    moment = at or now()
    ahead = session.scalar(
        select(func.count(Handoff.id)).where(
            waiting(),
            Handoff.queued_at >= min(mine.queued_at, moment) - LONGEST_WAIT,
            or_(
                Handoff.queued_at < mine.queued_at,
                and_(Handoff.queued_at == mine.queued_at, Handoff.id < mine.id),
            ),
        )
    )
    return int(ahead or 0) + 1


def callback_phone(session: Session, handoff: Handoff) -> str | None:
    """The number to ring the patient back on: the number of the call they were on."""
    if handoff.attempt_id is not None:
        destination: str | None = session.scalar(
            select(ContactAttempt.destination).where(ContactAttempt.id == handoff.attempt_id)
        )
        if destination:
            return destination
    if handoff.caller_number:
        return handoff.caller_number
    if handoff.referral_id is None:
        return None
    phones = session.execute(
        select(Patient.mobile_phone, Patient.landline_phone)
        .join(Referral, Referral.patient_id == Patient.id)
        .where(Referral.id == handoff.referral_id)
    ).first()
    return (phones.mobile_phone or phones.landline_phone) if phones is not None else None


def close_waiting(
    session: Session, handoff_id: int, reason: HandoffEndReason, *, at: datetime | None = None
) -> bool:
    """End a waiting handoff that no handler took (``reason``: a timeout, a hang-up, or the
    patient chose a callback) and make its callback request; False (nothing written) when it
    was not waiting any more. Abandoned unless the patient chose the callback."""
    moment = at or now()
    chose_callback = reason is HandoffEndReason.CALLBACK_REQUESTED
    result = session.execute(
        update(Handoff)
        .where(Handoff.id == handoff_id, waiting())
        .values(
            ended_at=moment,
            ended_reason=reason.value,
            abandoned=not chose_callback,
            outcome=HandoffEndReason.CALLBACK_REQUESTED.value if chose_callback else None,
        )
        .execution_options(synchronize_session=False)
    )
    if cast(CursorResult[Any], result).rowcount != 1:
        return False
    handoff = session.get_one(Handoff, handoff_id, populate_existing=True)
    session.add(
        CallbackRequest(
            referral_id=handoff.referral_id,
            reason=PATIENT_ASKED_REASON if chose_callback else NO_HANDLER_REASON,
            phone=callback_phone(session, handoff),
            created_at=moment,
            due_at=moment,
        )
    )
    session.flush()
    log.info("handoff %s left the queue: %s; callback requested", handoff_id, reason.value)
    return True
