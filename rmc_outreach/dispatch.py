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
next_action_at), pending attempts are found through the attempt state, and the batch is written
with one INSERT and one UPDATE (``claim_writes``), so a claim costs the same among a thousand
referrals or a million (``python -m benchmarks.dispatch`` measures it).
"""

from __future__ import annotations

import functools
import logging
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import Integer, Select, bindparam, func, select, text
from sqlalchemy.orm import Session

from rmc_outreach import abandonment, attempts, claim_writes, handlers, pacing
from rmc_outreach.claim_writes import NewAttempt, ReferralMove
from rmc_outreach.clock import now as clock_now
from rmc_outreach.db import session_scope
from rmc_outreach.engine_config import EngineConfig, in_clock_time
from rmc_outreach.journey import JourneyEnd, NextContact, next_contact
from rmc_outreach.models import (
    AttemptState,
    Channel,
    ContactAttempt,
    Patient,
    Priority,
    Referral,
    ReferralStatus,
)
from rmc_outreach.models.states import PRIORITY_ORDER
from rmc_outreach.outreach import CALL_BACK_OFFER_TEMPLATE
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


def _to_plan(session: Session, moment: datetime, limit: int) -> list[tuple[Referral, Patient]]:
    """Referrals whose next step is to be planned (due, no channel yet), locked, by priority."""
    found: list[tuple[Referral, Patient]] = []
    for priority in PRIORITY_ORDER:
        remaining = limit - len(found)
        if remaining <= 0:
            break
        rows = session.execute(
            select(Referral, Patient)
            .join(Patient, Patient.id == Referral.patient_id)
            .where(
                Referral.status == ReferralStatus.IN_OUTREACH,
                Referral.priority == priority,
                Referral.next_action_at <= moment,
                Referral.next_channel.is_(None),
            )
            .order_by(Referral.next_action_at, Referral.id)
            .limit(remaining)
            .with_for_update(skip_locked=True, of=Referral)
        )
        found.extend((referral, patient) for referral, patient in rows)
    return found


@dataclass(frozen=True)
class DueReferral:
    """A due referral as a claim reads it: its journey position (columns, not an ORM object:
    the claim writes referrals in bulk) and its patient."""

    referral_id: int
    priority: Priority
    journey_step: int
    last_contact_at: datetime | None
    next_channel: Channel | None
    patient: Patient


@functools.cache
def _claimable_query(
    *, exclude_calls: bool
) -> Select[int, int, datetime | None, Channel | None, Patient]:
    """The locking read of one priority's due referrals (built once: only its values change)."""
    query = (
        select(
            Referral.id,
            Referral.journey_step,
            Referral.last_contact_at,
            Referral.next_channel,
            Patient,
        )
        .join_from(Referral, Patient, Patient.id == Referral.patient_id)
        .where(
            Referral.status == ReferralStatus.IN_OUTREACH,
            Referral.priority == bindparam("priority"),
            Referral.next_action_at <= bindparam("moment"),
            Referral.next_channel.is_not(None),
            Referral.outreach_paused_at.is_(None),  # a supervisor paused this referral
        )
        .order_by(Referral.next_action_at, Referral.id)
        .limit(bindparam("batch", type_=Integer))
        .with_for_update(skip_locked=True, of=Referral)
    )
    if exclude_calls:
        query = query.where(Referral.next_channel != Channel.CALL)
    return query


def _claimable(
    session: Session, moment: datetime, limit: int, *, exclude_calls: bool
) -> list[DueReferral]:
    """Due referrals with a planned step, locked (``SKIP LOCKED``), 2WW then urgent then
    routine, earliest due first; one small query per priority on ``ix_referral_dispatch``.

    Priorities a supervisor paused are left alone."""
    found: list[DueReferral] = []
    query = _claimable_query(exclude_calls=exclude_calls)
    paused = pacing.paused_priorities(session)
    values: dict[str, object] = {"moment": moment}
    for priority in PRIORITY_ORDER:
        remaining = limit - len(found)
        if remaining <= 0:
            break
        if priority in paused:
            continue
        rows = session.execute(query, {**values, "priority": priority, "batch": remaining})
        found.extend(
            DueReferral(referral_id, priority, step, last_contact_at, channel, patient)
            for referral_id, step, last_contact_at, channel, patient in rows
        )
    return found


def _plan(
    patient: Patient,
    config: EngineConfig,
    moment: datetime,
    *,
    priority: Priority,
    journey_step: int,
    last_contact_at: datetime | None,
) -> NextContact | JourneyEnd:
    return next_contact(
        config.policy,
        priority,
        contact_profile(patient),
        steps_done=journey_step,
        last_contact_at=last_contact_at,
        now=moment,
        window=config.window,
    )


def plan_due(session: Session, config: EngineConfig, moment: datetime) -> tuple[int, int]:
    """Plan the next step of referrals waiting to be planned; returns (planned, ended)."""
    planned = ended = 0
    for referral, patient in _to_plan(session, moment, config.admit_batch_size):
        decision = _plan(
            patient,
            config,
            moment,
            priority=referral.priority,
            journey_step=referral.journey_step,
            last_contact_at=referral.last_contact_at,
        )
        if isinstance(decision, JourneyEnd):
            end_journey(session, referral, decision.reason)
            ended += 1
            continue
        referral.next_action_at = decision.due_at
        referral.next_channel = decision.channel
        planned += 1
    return planned, ended


# How often beat runs dispatch (workers.celery_app schedules it): pacing's calls-per-second
# limit allows this many seconds' worth of calls per run. Every second: pacing's answer also
# changes with time alone (a handler's call growing long enough to end soon), with no event to
# kick a run, and a handler left idle waits for the next run.
DISPATCH_INTERVAL = timedelta(seconds=1)


def call_slots_now(
    session: Session, config: EngineConfig, moment: datetime, *, paced: bool | None = None
) -> int:
    """How many calls may start now: pacing's answer (``pacing.decide``) while any handler is
    signed in, never more than the cap on calls in flight.

    With no handler signed in there is nobody to hand a patient to, and pacing would start no
    call at all; outreach then runs on the cap alone, and those calls offer a call back from the
    booking team instead of a wait on key 1 (``CALL_BACK_OFFER_TEMPLATE``), even if handlers
    sign in before they are answered: no patient waits for a handler pacing did not count on,
    so no call is abandoned.
    """
    fixed = config.max_calls_in_flight - calls_in_flight(session)
    if paced is None:
        paced = handlers.any_signed_in(session)
    if fixed <= 0 or not paced:
        return fixed
    inputs = pacing.gather_inputs(session, config, moment, recent=in_clock_time(DISPATCH_INTERVAL))
    decision = pacing.decide(inputs)
    if decision.reason is not None:
        log.info("pacing: no call now (%s)", decision.reason)
    return min(fixed, decision.calls_allowed)


@dataclass
class _CallGate:
    """Which of this run's due calls may start: pacing's slots, and Ofcom's no-redial lockout
    after an abandoned call (``locked``: such a referral's call waits, due again when the
    lockout ends; its texts and letters go meanwhile)."""

    config: EngineConfig
    moment: datetime
    slots: int
    locked: set[int] = field(default_factory=set)
    paced: bool = True  # False: no handler signed in, the calls offer a call back

    def template_for(self, channel: Channel) -> str | None:
        """The attempt's template: the journey's SMS, or a call that offers a call back."""
        if channel is Channel.SMS:
            return SMS_JOURNEY_TEMPLATE
        if channel is Channel.CALL and not self.paced:
            return CALL_BACK_OFFER_TEMPLATE
        return None

    def admit(self, session: Session, item: DueReferral, moves: list[ReferralMove]) -> bool:
        """True when this call may start now (a slot is taken)."""
        if item.referral_id in self.locked:
            until = abandonment.redial_locked_until(
                session, item.referral_id, self.moment, self.config.redial_lockout
            )
            log.info("referral %s: call held until the no-redial lockout ends", item.referral_id)
            moves.append(
                ReferralMove(
                    item.referral_id, item.journey_step, until or self.moment, item.next_channel
                )
            )
            return False
        if self.slots <= 0:
            return False
        self.slots -= 1
        return True


def calls_in_flight(session: Session) -> int:
    """Call attempts queued or under way: the simple concurrency cap until pacing lands.

    Under way: claimed, sent or uncertain. Queued: pending with the referral's next action
    empty (dispatch queued it). A pending call a worker *deferred* (the window was closing: its
    referral waits for ``next_action_at``) holds no slot; if it did, a cap's worth of calls
    deferred at the end of a day would hold every slot, and dispatch, which re-queues them
    only into a free slot, would never place a call again.

    Counted through ``ix_contact_attempt_state_claimed_at`` (the states listed, not "not
    final"), so the cost follows the attempts in flight, never the table's history.
    """
    under_way = (
        select(func.count())
        .select_from(ContactAttempt)
        .where(
            ContactAttempt.state.in_(attempts.IN_FLIGHT_STATES),
            ContactAttempt.channel == Channel.CALL,
        )
        .scalar_subquery()
    )
    queued = (
        select(func.count())
        .select_from(ContactAttempt)
        .join(Referral, Referral.id == ContactAttempt.referral_id)
        .where(
            ContactAttempt.state == AttemptState.PENDING,
            ContactAttempt.channel == Channel.CALL,
            Referral.next_action_at.is_(None),
        )
        .scalar_subquery()
    )
    return session.scalar(select(under_way + queued)) or 0


def destination_for(patient: Patient, channel: Channel) -> str | None:
    """The number an attempt on ``channel`` goes to: SMS to the mobile, calls mobile first;
    for a landline-only patient calls to the landline and no SMS (``Patient.number_to_call``)."""
    if channel is Channel.SMS:
        return patient.number_to_text
    if channel is Channel.CALL:
        return patient.number_to_call
    return None


@dataclass(frozen=True)
class PendingAttempt:
    """An attempt created earlier and not yet worked (deferred, or released by the sweeper)."""

    attempt_id: uuid.UUID
    step: int
    channel: Channel


def _pending_attempts_of(
    session: Session, referral_ids: list[int]
) -> dict[int, list[PendingAttempt]]:
    """The pending attempts of these referrals, in one query.

    Read through the attempt state (few attempts are ever pending at once), so it costs the
    same however long the referrals' histories or the table are.
    """
    found: dict[int, list[PendingAttempt]] = {referral_id: [] for referral_id in referral_ids}
    if referral_ids:
        rows = session.execute(
            select(
                ContactAttempt.referral_id,
                ContactAttempt.id,
                ContactAttempt.step,
                ContactAttempt.channel,
            ).where(
                ContactAttempt.state == AttemptState.PENDING,
                ContactAttempt.referral_id.in_(referral_ids),
            )
        )
        for referral_id, attempt_id, step, channel in rows:
            found[referral_id].append(PendingAttempt(attempt_id, step, channel))
    return found


# The PostgreSQL advisory lock claim runs hold until they commit (any bigint; "rmc" + "dsp").
CLAIM_LOCK_KEY = 0x726D63_647370


def serialise_claims(session: Session) -> None:
    """Make this transaction the only claim run until it commits.

    Two runs at once (beat's and one started because a handler became free) would each count
    the same free slots and start calls for both; the second now waits for the first's commit
    and counts its calls. SQLite needs nothing: ``BEGIN IMMEDIATE`` already serialises writers.

    On PostgreSQL the claim also commits without waiting for its WAL flush
    (``synchronous_commit = off`` for this transaction only; a few ms of each claim). This is
    safe because nothing is contacted on the strength of a claim alone: a worker first claims
    the attempt in a synchronous commit, which flushes the WAL up to itself and so the claim's
    too. If the server crashes before that, the claim is lost whole (no attempt row, the
    referral due as before), the queued task finds no attempt and does nothing, and the next
    run claims the referral again: no contact is lost or doubled.
    """
    if session.get_bind().dialect.name == "postgresql":
        session.execute(select(func.pg_advisory_xact_lock(CLAIM_LOCK_KEY)))
        session.execute(text("SET LOCAL synchronous_commit = off"))


def claim_due(session: Session, config: EngineConfig, moment: datetime) -> list[QueuedAttempt]:
    """Claim due referrals and create (or re-queue) their attempts; the caller commits, then
    enqueues. At most ``dispatch_batch_size`` per run, and calls only while fewer than
    ``max_calls_in_flight`` are queued or under way (issue 4's pacing replaces this seam).

    A constant number of statements per run, whatever the batch and the table's size: the
    in-flight count, one locking read per priority, one read of the batch's pending attempts,
    then one INSERT of all new attempts and one UPDATE of all claimed referrals
    (``claim_writes``).
    """
    serialise_claims(session)
    paced = handlers.any_signed_in(session)
    call_slots = call_slots_now(session, config, moment, paced=paced)
    outcomes: list[QueuedAttempt | NewAttempt] = []  # in claim order
    moves: list[ReferralMove] = []
    due = _claimable(session, moment, config.dispatch_batch_size, exclude_calls=call_slots <= 0)
    calls = _CallGate(config, moment, call_slots, paced=paced)
    if call_slots > 0 and due:
        calls.locked = abandonment.locked_referral_id_set(session, moment, config.redial_lockout)
    pending_of = _pending_attempts_of(session, [item.referral_id for item in due])
    for item in due:
        pending = next(
            (
                attempt
                for attempt in pending_of.get(item.referral_id, ())
                if attempt.step == item.journey_step
            ),
            None,
        )
        if pending is not None:
            # Deferred or released earlier: the same attempt goes again, no new step.
            if pending.channel is Channel.CALL and not calls.admit(session, item, moves):
                continue
            moves.append(ReferralMove(item.referral_id, item.journey_step, None, item.next_channel))
            outcomes.append(QueuedAttempt(pending.attempt_id, pending.channel))
            continue
        decision = _plan(
            item.patient,
            config,
            moment,
            priority=item.priority,
            journey_step=item.journey_step,
            last_contact_at=item.last_contact_at,
        )
        if isinstance(decision, JourneyEnd):
            # Rare (flags or opt-outs changed since planning): the ORM way, flushed below.
            end_journey(session, session.get_one(Referral, item.referral_id), decision.reason)
            continue
        if decision.due_at > moment + DUE_MARGIN:
            moves.append(
                ReferralMove(item.referral_id, item.journey_step, decision.due_at, decision.channel)
            )
            continue
        if decision.channel is Channel.CALL and not calls.admit(session, item, moves):
            continue  # stays due: picked up when a call ends (or when the lockout does)
        outcomes.append(
            NewAttempt(
                attempt_id=attempts.time_ordered_id(),
                referral_id=item.referral_id,
                step=decision.step,
                channel=decision.channel,
                destination=destination_for(item.patient, decision.channel),
                template=calls.template_for(decision.channel),
            )
        )
    session.flush()  # journeys ended above
    created = claim_writes.insert_attempts(
        session, [outcome for outcome in outcomes if isinstance(outcome, NewAttempt)]
    )
    queued: list[QueuedAttempt] = []
    for outcome in outcomes:
        if isinstance(outcome, QueuedAttempt):
            queued.append(outcome)
        elif outcome.attempt_id in created:
            moves.append(ReferralMove(outcome.referral_id, outcome.step, None, outcome.channel))
            queued.append(QueuedAttempt(outcome.attempt_id, outcome.channel))
        else:
            # That step was already tried: skip it rather than contact the patient twice.
            log.warning("referral %s: step %s already tried", outcome.referral_id, outcome.step)
            moves.append(ReferralMove(outcome.referral_id, outcome.step, moment, None))
    claim_writes.move_referrals(session, moves)
    return queued
