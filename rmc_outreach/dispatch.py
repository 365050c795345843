"""Dispatch: admit waiting referrals, plan their steps, and claim the due ones in priority order.

Run by beat every few seconds. Three short transactions:

1. **admit**: waiting referrals enter outreach (2WW, urgent, routine; oldest referral first),
   marked *to be planned*.
2. **plan**: referrals to be planned get their next step from ``journey.next_contact`` (or their
   journey ends). Runs in and out of the calling window, so ``next_action_at`` is always the
   real next time something happens.
3. **claim** (inside the calling window only): due referrals, 2WW first, then urgent, then
   routine, earliest due first, are locked with ``FOR UPDATE SKIP LOCKED`` on PostgreSQL (SQLite
   writers are serialised by ``BEGIN IMMEDIATE``), re-planned (flags and opt-outs may have
   changed), and given an attempt row; the transaction commits and only then are the attempt ids
   returned for the caller to enqueue.

Each priority is read with its own small query on ``ix_referral_dispatch`` (status, priority,
next_action_at) so a claim costs the same among a thousand referrals or a million.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from rmc_outreach import attempts
from rmc_outreach.clock import now as clock_now
from rmc_outreach.db import session_scope
from rmc_outreach.engine_config import EngineConfig
from rmc_outreach.journey import JourneyEnd, NextContact, next_contact
from rmc_outreach.models import (
    AttemptState,
    Channel,
    ContactAttempt,
    Patient,
    Referral,
    ReferralStatus,
)
from rmc_outreach.models.states import PRIORITY_ORDER
from rmc_outreach.progress import contact_profile, end_journey

log = logging.getLogger(__name__)

# A step planned for within this margin of now is due now.
DUE_MARGIN = timedelta(seconds=1)
SMS_JOURNEY_TEMPLATE = "invitation"


@dataclass(frozen=True)
class QueuedAttempt:
    """An attempt to enqueue: its id and which task works it."""

    attempt_id: uuid.UUID
    channel: Channel


@dataclass
class DispatchResult:
    """What one dispatch run did."""

    admitted: int = 0
    planned: int = 0
    ended: int = 0
    queued: list[QueuedAttempt] = field(default_factory=list)


def run_dispatch(config: EngineConfig, *, moment: datetime | None = None) -> DispatchResult:
    """Admit, plan and (inside the calling window) claim; returns the attempts to enqueue.

    The caller enqueues ``result.queued`` after this returns: every row is committed by then.
    """
    moment = moment or clock_now()
    result = DispatchResult()
    with session_scope() as session:
        result.admitted = admit_waiting(session, config.admit_batch_size, moment)
    with session_scope() as session:
        result.planned, result.ended = plan_due(session, config, moment)
    if config.window.is_open(moment):
        with session_scope() as session:
            result.queued = claim_due(session, config, moment)
    if result.admitted or result.planned or result.queued:
        log.info(
            "dispatch: %s admitted, %s planned, %s ended, %s queued",
            result.admitted,
            result.planned,
            result.ended,
            len(result.queued),
        )
    return result


def admit_waiting(session: Session, limit: int, moment: datetime) -> int:
    """Move up to ``limit`` waiting referrals into outreach, most urgent and oldest first."""
    admitted = 0
    for priority in PRIORITY_ORDER:
        if admitted >= limit:
            break
        referrals = session.scalars(
            select(Referral)
            .where(Referral.status == ReferralStatus.WAITING, Referral.priority == priority)
            .order_by(Referral.referral_date, Referral.id)
            .limit(limit - admitted)
            .with_for_update(skip_locked=True)
        ).all()
        for referral in referrals:
            referral.status = ReferralStatus.IN_OUTREACH
            referral.journey_step = 0
            referral.next_action_at = moment
            referral.next_channel = None
        admitted += len(referrals)
    return admitted


def _due_referrals(
    session: Session,
    moment: datetime,
    limit: int,
    *,
    to_plan: bool,
    exclude_calls: bool = False,
) -> list[tuple[Referral, Patient]]:
    found: list[tuple[Referral, Patient]] = []
    for priority in PRIORITY_ORDER:
        remaining = limit - len(found)
        if remaining <= 0:
            break
        query = (
            select(Referral, Patient)
            .join(Patient, Patient.id == Referral.patient_id)
            .where(
                Referral.status == ReferralStatus.IN_OUTREACH,
                Referral.priority == priority,
                Referral.next_action_at <= moment,
            )
            .order_by(Referral.next_action_at, Referral.id)
            .limit(remaining)
            .with_for_update(skip_locked=True, of=Referral)
        )
        if to_plan:
            query = query.where(Referral.next_channel.is_(None))
        else:
            query = query.where(Referral.next_channel.is_not(None))
            if exclude_calls:
                query = query.where(Referral.next_channel != Channel.CALL)
        found.extend((row[0], row[1]) for row in session.execute(query).all())
    return found


def _plan(
    referral: Referral, patient: Patient, config: EngineConfig, moment: datetime
) -> NextContact | JourneyEnd:
    return next_contact(
        config.policy,
        referral.priority,
        contact_profile(patient),
        steps_done=referral.journey_step,
        last_contact_at=referral.last_contact_at,
        now=moment,
        window=config.window,
    )


def plan_due(session: Session, config: EngineConfig, moment: datetime) -> tuple[int, int]:
    """Plan the next step of referrals waiting to be planned; returns (planned, ended)."""
    planned = ended = 0
    for referral, patient in _due_referrals(session, moment, config.admit_batch_size, to_plan=True):
        decision = _plan(referral, patient, config, moment)
        if isinstance(decision, JourneyEnd):
            end_journey(session, referral, decision.reason)
            ended += 1
            continue
        referral.next_action_at = decision.due_at
        referral.next_channel = decision.channel
        planned += 1
    return planned, ended


def calls_in_flight(session: Session) -> int:
    """Call attempts queued or under way: the simple concurrency cap until pacing lands."""
    return (
        session.scalar(
            select(func.count())
            .select_from(ContactAttempt)
            .where(
                ContactAttempt.channel == Channel.CALL,
                ContactAttempt.state != AttemptState.FINAL,
            )
        )
        or 0
    )


def destination_for(patient: Patient, channel: Channel) -> str | None:
    """The number an attempt on ``channel`` goes to: SMS to the mobile, calls mobile first."""
    if channel is Channel.SMS:
        return patient.mobile_phone
    if channel is Channel.CALL:
        return patient.mobile_phone or patient.landline_phone
    return None


def _attempts_of(session: Session, referral_ids: list[int]) -> dict[int, list[ContactAttempt]]:
    """Every attempt of these referrals, in one query (a referral has a handful at most)."""
    found: dict[int, list[ContactAttempt]] = {referral_id: [] for referral_id in referral_ids}
    if referral_ids:
        for attempt in session.scalars(
            select(ContactAttempt).where(ContactAttempt.referral_id.in_(referral_ids))
        ):
            found[attempt.referral_id].append(attempt)
    return found


def claim_due(session: Session, config: EngineConfig, moment: datetime) -> list[QueuedAttempt]:
    """Claim due referrals and create (or re-queue) their attempts; the caller commits, then
    enqueues. At most ``dispatch_batch_size`` per run, and calls only while fewer than
    ``max_calls_in_flight`` are queued or under way (issue 4's pacing replaces this seam).

    A constant number of statements per run, whatever the batch: one read per priority, one
    for the batch's attempts, then one flush of all inserts and updates.
    """
    call_slots = config.max_calls_in_flight - calls_in_flight(session)
    queued: list[QueuedAttempt] = []
    rows = _due_referrals(
        session,
        moment,
        config.dispatch_batch_size,
        to_plan=False,
        exclude_calls=call_slots <= 0,
    )
    existing = _attempts_of(session, [referral.id for referral, _ in rows])
    with session.no_autoflush:
        for referral, patient in rows:
            current = existing[referral.id]
            pending = next(
                (
                    attempt
                    for attempt in current
                    if attempt.step == referral.journey_step
                    and attempt.state is AttemptState.PENDING
                ),
                None,
            )
            if pending is not None:
                # Deferred or released earlier: the same attempt goes again, no new step.
                if pending.channel is Channel.CALL:
                    if call_slots <= 0:
                        continue
                    call_slots -= 1
                referral.next_action_at = None
                queued.append(QueuedAttempt(pending.id, pending.channel))
                continue
            decision = _plan(referral, patient, config, moment)
            if isinstance(decision, JourneyEnd):
                end_journey(session, referral, decision.reason)
                continue
            if decision.due_at > moment + DUE_MARGIN:
                referral.next_action_at = decision.due_at
                referral.next_channel = decision.channel
                continue
            if any(
                (attempt.step, attempt.channel) == (decision.step, decision.channel)
                for attempt in current
            ):
                # That step was already tried: skip it rather than contact the patient twice.
                log.warning("referral %s: step %s already tried", referral.id, decision.step)
                referral.journey_step = decision.step
                referral.next_action_at = moment
                referral.next_channel = None
                continue
            if decision.channel is Channel.CALL:
                if call_slots <= 0:
                    continue  # stays due: picked up when a call ends
                call_slots -= 1
            attempt = attempts.build(
                referral_id=referral.id,
                step=decision.step,
                channel=decision.channel,
                destination=destination_for(patient, decision.channel),
                template=SMS_JOURNEY_TEMPLATE if decision.channel is Channel.SMS else None,
            )
            session.add(attempt)
            referral.journey_step = decision.step
            referral.next_action_at = None
            referral.next_channel = decision.channel
            queued.append(QueuedAttempt(attempt.id, decision.channel))
    session.flush()
    return queued
