"""Moving a referral along its journey: after each attempt, on reaching the patient, at the end.

Planning itself (``journey.next_contact``) happens in one place, ``dispatch``, which has the
calling window and the policy. When an attempt is done and the patient was not reached, the
referral is marked *to be planned* (``next_channel`` empty, ``next_action_at`` now) and the next
dispatch tick, in or out of the calling window, plans its next step or ends the journey::

    in_outreach, step n running   (next_action_at empty)
        │ attempt done, not reached
        v
    in_outreach, to be planned     (next_channel empty, next_action_at = now)
        │ dispatch plans
        ├──> step n+1 due at T     (next_channel set, next_action_at = T)
        └──> exhausted             (journey ran out: handed back to people)

Reaching the patient (a keypad choice, an SMS reply) stops every channel at once.
"""

from __future__ import annotations

import logging
import uuid
from datetime import datetime
from typing import Any, cast

from sqlalchemy import CursorResult, func, select, update
from sqlalchemy.orm import Session

from rmc_outreach import attempts
from rmc_outreach.clock import now
from rmc_outreach.journey import ContactProfile
from rmc_outreach.models import (
    OPEN_REFERRAL_STATUSES,
    AttemptState,
    Channel,
    ContactAttempt,
    Patient,
    Referral,
    ReferralStatus,
)

log = logging.getLogger(__name__)

# Attempts of a referral that is closed still go ahead only when the patient asked for them
# (pressing 2 for "text me how to book" reaches the patient, then the text is sent).
REQUESTED_TEMPLATES = frozenset({"how_to_book"})


def contact_profile(patient: Patient) -> ContactProfile:
    """What the journey may use for this patient: phones, address, flags and opt-outs."""
    return ContactProfile(
        has_mobile=bool(patient.mobile_phone),
        has_landline=bool(patient.landline_phone),
        has_postal_address=patient.has_postal_address,
        no_sms=patient.no_sms,
        letter_only=patient.letter_only,
        landline_only=patient.landline_only,
        sms_opted_out=patient.sms_opted_out_at is not None,
        contact_opted_out=patient.contact_opted_out_at is not None,
    )


def _rowcount(result: Any) -> int:
    return cast(CursorResult[Any], result).rowcount


def after_attempt_done(
    session: Session, *, referral_id: int, step: int, ended_at: datetime | None
) -> bool:
    """The journey's step ``step`` is over (call final; SMS or letter sent): plan the next one.

    Only the attempt of the referral's current step moves the journey, and only while the
    referral is still in outreach and waiting on that step. Returns True when it moved.
    """
    moved = _rowcount(
        session.execute(
            update(Referral)
            .where(
                Referral.id == referral_id,
                Referral.status == ReferralStatus.IN_OUTREACH,
                Referral.journey_step == step,
                Referral.next_action_at.is_(None),
            )
            .values(
                next_action_at=now(),
                next_channel=None,
                last_contact_at=ended_at or now(),
            )
        )
    )
    if moved:
        log.info("referral %s: step %s done, next step to plan", referral_id, step)
    return moved == 1


def reach(
    session: Session,
    referral_id: int,
    channel: Channel,
    *,
    status: ReferralStatus = ReferralStatus.REACHED,
    at: datetime | None = None,
) -> bool:
    """The patient was in contact: the referral leaves outreach and every channel stops.

    ``status`` is ``reached`` or ``declined`` (the patient no longer needs the appointment).
    Returns False when the referral was already closed (nothing changes then).
    """
    allowed_from = (
        (*OPEN_REFERRAL_STATUSES, ReferralStatus.REACHED)
        if status is ReferralStatus.DECLINED
        else OPEN_REFERRAL_STATUSES
    )
    moment = at or now()
    changed = _rowcount(
        session.execute(
            update(Referral)
            .where(Referral.id == referral_id, Referral.status.in_(allowed_from))
            .values(
                status=status,
                reached_at=func.coalesce(Referral.reached_at, moment),
                reached_by=func.coalesce(Referral.reached_by, channel.value),
                next_action_at=None,
                next_channel=None,
            )
        )
    )
    if changed:
        log.info("referral %s %s by %s", referral_id, status, channel)
        stop_all_channels(session, referral_id, reason=f"patient_{status}")
    return changed == 1


def stop_all_channels(session: Session, referral_id: int, *, reason: str) -> int:
    """Cancel every attempt not yet under way (and pending letters); returns how many stopped.

    Calls already ringing finish on their own; workers re-check the referral before any contact.
    """
    rows = session.execute(
        select(ContactAttempt.id, ContactAttempt.channel, ContactAttempt.state).where(
            ContactAttempt.referral_id == referral_id, ContactAttempt.state != AttemptState.FINAL
        )
    ).all()
    pending = [row.id for row in rows if row.state is AttemptState.PENDING]
    stopped = len(attempts.cancel_pending(session, pending, reason))
    if any(row.channel is Channel.LETTER for row in rows):
        from rmc_outreach.letters import cancel_pending_letters

        stopped += cancel_pending_letters(session, referral_id, reason)
    return stopped


def end_journey(session: Session, referral: Referral, reason: str) -> None:
    """No more automated contact: the referral is exhausted and handed back to people."""
    referral.status = ReferralStatus.EXHAUSTED
    referral.journey_end_reason = reason
    referral.next_action_at = None
    referral.next_channel = None
    log.info("referral %s exhausted (%s)", referral.id, reason)


def referral_allows(referral: Referral, attempt: ContactAttempt) -> bool:
    """Whether the referral's status still lets this attempt go ahead."""
    if referral.status in OPEN_REFERRAL_STATUSES:
        return True
    return referral.status is ReferralStatus.REACHED and attempt.template in REQUESTED_TEMPLATES


def defer(session: Session, referral_id: int, until: datetime) -> None:
    """Try the referral's pending attempt again at ``until`` (dispatch re-queues it then)."""
    session.execute(
        update(Referral)
        .where(Referral.id == referral_id, Referral.status == ReferralStatus.IN_OUTREACH)
        .values(next_action_at=until)
    )


def open_referral_ids_of(session: Session, patient_ids: list[int]) -> list[int]:
    """Open referrals of these patients, oldest first."""
    if not patient_ids:
        return []
    return list(
        session.scalars(
            select(Referral.id)
            .where(
                Referral.patient_id.in_(patient_ids),
                Referral.status.in_(OPEN_REFERRAL_STATUSES),
            )
            .order_by(Referral.referral_date, Referral.id)
        )
    )


def attempt_ids_of(session: Session, referral_id: int) -> list[uuid.UUID]:
    """Every attempt of a referral, oldest first (tests and the sweeper read them)."""
    return list(
        session.scalars(
            select(ContactAttempt.id)
            .where(ContactAttempt.referral_id == referral_id)
            .order_by(ContactAttempt.created_at)
        )
    )
