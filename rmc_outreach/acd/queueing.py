"""The patient's side of the queue, decided in the web request that answers Twilio.

A handoff is created in the request that returns the ``<Enqueue>`` (its id names the queue and
the URLs): for an outbound call when the patient presses 1 (get-or-create by attempt, so the
event task finds the same row), for an inbound call when it arrives (get-or-create by call sid).
Whether a patient is still waiting, who takes them and how the wait ends is
``acd.handoff_state``'s (``waiting``, ``close_waiting`` and ``callback_phone`` are re-exported
here): a waiting patient leaves the queue in one conditional UPDATE, nobody in time or they chose
a callback, and its callback request is made in the same transaction, so it is made exactly once,
by whichever request ended the wait.
"""

from __future__ import annotations

import logging
import uuid
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, func, or_, select
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from rmc_outreach.acd.handoff_state import (
    ABANDONED_REASONS,
    NO_HANDLER_REASON,
    PATIENT_ASKED_REASON,
    callback_phone,
    close_waiting,
    waiting,
)
from rmc_outreach.clock import now
from rmc_outreach.models import (
    OPEN_REFERRAL_STATUSES,
    ContactAttempt,
    Handoff,
    HandoffSource,
    Patient,
    Referral,
    ReferralStatus,
)

__all__ = [
    "ABANDONED_REASONS",
    "NO_HANDLER_REASON",
    "PATIENT_ASKED_REASON",
    "callback_phone",
    "close_waiting",
    "inbound_handoff",
    "outbound_handoff",
    "position",
    "recognise_caller",
    "waiting",
]

log = logging.getLogger(__name__)

# No patient waits this long: bounds the reads of ``ix_handoff_queued_at``.
LONGEST_WAIT = timedelta(hours=1)
RECOGNISED_STATUSES = (*OPEN_REFERRAL_STATUSES, ReferralStatus.REACHED)


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
