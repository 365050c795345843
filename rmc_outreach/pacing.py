"""Pacing: how many outbound calls may start now.

``decide`` is a pure function of ``PacingInputs``; ``gather_inputs`` measures them from the
database. The idea: every call placed may become a patient asking for a handler (with chance
``answer rate x speak-to-someone rate``), so the calls still undecided plus the new ones must
not be expected to bring more patients than there are handlers free (available handlers, and
handlers wrapping up, minus patients waiting that no handler is being rung for yet).

A handler wrapping up counts as free: a call started now reaches a patient who asks for the
booking team only after it has rung, the greeting has played and the patient has pressed a key
(half a minute or more), by which time the wrap-up (tens of seconds) is usually over; a patient
who does arrive first waits those few seconds. Waiting for the handler to be available before
dialling would leave every handler idle for that half minute after every call. Only a recent
wrap-up counts (``WRAP_UP_SOON``): a handler still wrapping up after that is busy with
something longer (or has left the desk), and patients dialled for them would wait.

A handler on a call counts as free soon with the chance that the call ends within the lead time
(how long a call started now takes to bring a patient to the queue), judged from the talk times
of recent bridged calls and of the calls still in progress, given how long this call has lasted
(``talk_times``), as a predictive dialler watches for agents about to become available. Waiting
for the call to end before dialling would leave the handler idle for the whole lead time after
every call. With too few talk times measured, or for a call longer than any measured, the
chance is 0.

The calls in flight are also bounded by the abandoned calls they risk (``pacing_risk``): the
patients they may bring beyond the handlers able to take them before they are abandoned.

As today's abandoned-call rate rises from half the cap to the cap, the number of calls per
free handler falls from that expectation to one: at or over the cap, each call in flight has a
free handler of its own (Ofcom's "handler guaranteed"). The cap is on the rate each day ends at
(domain.md), so the rate pacing acts on is the one the day is heading for
(``PacingInputs.pacing_rate``): its abandoned calls so far over its live-answered calls so far
and still to come (``day_forecast``), as if those still to come were abandoned at half the cap.
Early in a busy day three unlucky abandoned calls among the first hundred slow the floor down a
little instead of holding it to one call per handler for hours; by the end of the day it is the
day's own rate. And a day is paced one to one before ``DAY_MARGIN`` more abandoned calls would
take it over the cap with the calls it is still expected to have (``PacingInputs.at_cap``).
Never more than the calls-per-second and concurrent-call limits allow; nothing while paused.

Definitions used here and everywhere else (``abandonment``):

- *live-answered*: an outbound call answered by a person (``answered_by = 'human'``, or any
  keypad choice, which only a person makes);
- *abandoned*: a handoff (a patient waiting for a handler) nobody took in time;
- the *abandoned-call rate* of a day: abandoned / live-answered among the outbound calls
  placed that local day (``abandonment.abandoned_rate``).

Pauses (``pause``, ``resume``, ``paused_priorities``) stop outreach for every priority or one;
dispatch skips the paused priorities (``PacingDecision.priorities``) on every channel.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum

from sqlalchemy import ColumnElement, and_, func, or_, select
from sqlalchemy.orm import Session

from rmc_outreach import abandonment, attempts, day_forecast, pacing_risk, talk_times
from rmc_outreach.audit import record_audit_event
from rmc_outreach.clock import now
from rmc_outreach.engine_config import EngineConfig, PacingLimits
from rmc_outreach.events import MACHINE_ANSWERS
from rmc_outreach.models import (
    ALL_PRIORITIES_SCOPE,
    AttemptState,
    Channel,
    ContactAttempt,
    Handler,
    HandlerState,
    Handoff,
    HandoffOffer,
    OutreachPause,
    Priority,
)
from rmc_outreach.models.states import PRIORITY_ORDER

# Throttling starts when today's abandoned rate reaches this share of the cap.
THROTTLE_FROM = 0.5
# Live-answered calls the day's abandoned rate is pulled towards THROTTLE_FROM x cap by.
THROTTLE_PRIOR_LIVE = 50
# However rarely calls have become handoffs lately, never more calls than this per free handler.
MAX_CALLS_PER_FREE_HANDLER = 20.0
# Until this many calls have been answered or have ended in the rate window the rates are
# mostly priors: pacing starts cautiously (at most START_CALLS_PER_FREE_HANDLER), as a
# predictive dialler starts in progressive mode, so the first minutes of a shift do not send
# a burst of patients to the queue at once.
MIN_MEASURED_CALLS = 20
START_CALLS_PER_FREE_HANDLER = 1.5
# From MIN_MEASURED_CALLS to this many the ratio rises in step with the calls measured, from
# START_CALLS_PER_FREE_HANDLER to the full measured ratio: a jump straight to it on the first
# few dozen calls sent a crowd of patients to a floor whose handlers were all busy at once.
FULL_PACING_MEASURED_CALLS = 60
# Measured rates: calls placed in this recent window, blended with priors while data is scarce
# (the prior counts as this many observations). About half of outbound calls go unanswered
# (domain.md); the speak-to-someone prior is deliberately high, so pacing starts cautious.
# A call counts towards the answer rate once its answer is known (answered, or ended), and a
# live-answered call towards the speak-to-someone rate once its choice is known (a key, or the
# call ended), not only once it has ended: the calls that end first are the unanswered ones (a
# person talks to a handler for minutes), so counting only ended calls would read a low answer
# rate at the start of every shift and send a burst of calls, and of patients, to the queue.
RATE_WINDOW = timedelta(hours=2)
ANSWER_RATE_PRIOR = 0.5
SPEAK_RATE_PRIOR = 0.5
PRIOR_WEIGHT = 20
# A patient still waiting after the hold wait plus this is a lost event, not a waiting patient.
WAITING_GRACE = timedelta(minutes=2)
# A handler in wrap-up for longer than this does not count as free soon.
WRAP_UP_SOON = timedelta(seconds=90)
# Abandoned calls come in twos and threes (a round of calls brings patients together), so
# the day's allowance: calls are paced one to one unless this many more abandoned calls would
# leave the day under the cap, counting the live-answered calls it is still expected to have
# (``day_forecast``).
DAY_MARGIN = 2
# The calls in flight may be expected to bring at most this share of the cap's abandoned calls
# (``pacing_risk``): the expectation is of one round of calls, and a day has many.
RISK_SHARE = 0.5
# The risk bound takes the answer and speak-to-someone rates this many standard errors above
# the measured ones: with a few handoffs measured (the first minutes of every calling session,
# when the last two hours hold no calls) the rates are known to within a third, and a round of
# calls paced on a rate measured low brings a crowd. With hundreds measured the difference is
# a few per cent.
RISK_RATE_Z = 1.0


class HoldReason(StrEnum):
    """Why pacing allows no call now."""

    PAUSED = "paused"
    NO_HANDLER = "no_handler"  # no handler free (or patients already waiting for every one)
    CONCURRENCY_LIMIT = "concurrency_limit"
    CALL_RATE_LIMIT = "call_rate_limit"  # calls per second
    ABANDON_CAP_REACHED = "abandon_cap_reached"  # one call per free handler, all in flight
    ABANDON_CAP_NEAR = "abandon_cap_near"  # throttled as the rate nears the cap
    HANDLERS_COVERED = "handlers_covered"  # calls in flight are expected to fill every handler
    ABANDON_RISK = "abandon_risk"  # more calls would risk too many patients left waiting


@dataclass(frozen=True)
class PacingInputs:
    """Everything pacing decides from: a snapshot of the floor and the configured limits.

    ``handlers_wrapping_up`` are handlers in wrap-up (free again soon); ``patients_waiting`` are
    patients waiting for a handler that no handler is being rung for (a handler ringing for a
    patient is in neither count). ``calls_undecided`` are the calls in flight that may still
    bring a patient to a handler (no keypad choice yet, not answered by a machine), and
    ``calls_answered_undecided`` those of them a person has answered (hearing the greeting):
    each of those brings a patient with the speak-to-someone rate alone (``undecided_load``).
    ``answer_rate`` is live-answered / placed and ``speak_rate`` is handoffs / live-answered,
    over a recent window, among the calls whose answer (or choice) is known.
    ``calls_started_recently`` were started in the last ``recent_seconds`` (for the
    calls-per-second limit).
    """

    limits: PacingLimits
    handlers_available: int
    patients_waiting: int
    calls_in_flight: int
    calls_undecided: int
    answer_rate: float
    speak_rate: float
    abandoned_today: int
    live_answered_today: int
    calls_started_recently: int = 0
    recent_seconds: float = 1.0
    paused_priorities: frozenset[Priority] = field(default_factory=frozenset)
    measured_calls: int = FULL_PACING_MEASURED_CALLS  # calls behind the measured answer rate
    handlers_wrapping_up: int = 0
    handlers_finishing_soon: float = 0.0  # expected handlers on a call to be free soon
    calls_answered_undecided: int = 0  # of calls_undecided, answered by a person
    # Expected handlers on a call to be free within the lead time plus the hold wait (in time
    # to take a patient before they are abandoned).
    handlers_finishing_in_wait: float = 0.0
    # Live-answered calls today is still expected to have (``day_forecast``); inf: unknown.
    live_expected_rest_of_day: float = math.inf
    # The rates the risk bound takes (``RISK_RATE_Z`` standard errors above the measured ones);
    # None: the measured rates.
    risk_answer_rate: float | None = None
    risk_speak_rate: float | None = None

    def __post_init__(self) -> None:
        counts = (
            self.handlers_available,
            self.handlers_wrapping_up,
            self.patients_waiting,
            self.calls_in_flight,
            self.calls_undecided,
            self.abandoned_today,
            self.live_answered_today,
            self.calls_started_recently,
            self.calls_answered_undecided,
        )
        floats = (
            self.handlers_finishing_soon,
            self.handlers_finishing_in_wait,
            self.live_expected_rest_of_day,
        )
        if min(counts) < 0 or min(floats) < 0:
            raise ValueError("pacing counts cannot be negative")
        rates = (self.answer_rate, self.speak_rate, self.risk_answer_rate, self.risk_speak_rate)
        if not all(0 <= rate <= 1 for rate in rates if rate is not None):
            raise ValueError("answer and speak-to-someone rates must be between 0 and 1")
        if self.recent_seconds <= 0:
            raise ValueError("recent_seconds must be positive")

    @property
    def abandoned_rate(self) -> float:
        """Today's abandoned calls per live-answered call (0 before anyone answers)."""
        if self.live_answered_today == 0:
            return 0.0
        return self.abandoned_today / self.live_answered_today

    @property
    def pacing_rate(self) -> float:
        """Today's abandoned rate as pacing weighs it (module docstring): the rate the day
        would end at if the live-answered calls it is still expected to have
        (``live_expected_rest_of_day``, but at least ``THROTTLE_PRIOR_LIVE``; that many when
        unknown) were abandoned at ``THROTTLE_FROM`` of the cap."""
        prior = THROTTLE_FROM * self.limits.abandoned_rate_cap
        rest = self.live_expected_rest_of_day
        weight = THROTTLE_PRIOR_LIVE if math.isinf(rest) else max(THROTTLE_PRIOR_LIVE, rest)
        return (self.abandoned_today + prior * weight) / (self.live_answered_today + weight)

    @property
    def day_allowance(self) -> float:
        """The abandoned calls today can still absorb and stay under the cap, with the
        live-answered calls it is expected to have still, less ``DAY_MARGIN``."""
        expected_live = self.live_answered_today + self.live_expected_rest_of_day
        cap = self.limits.abandoned_rate_cap
        return cap * expected_live - self.abandoned_today - DAY_MARGIN

    @property
    def at_cap(self) -> bool:
        """True when the pacing rate has reached the cap, or the day cannot absorb
        ``DAY_MARGIN`` more abandoned calls and stay under it: every call then needs a handler
        free for it now (one call per available handler). The cap is on the rate a day ends
        at, so a day over it early on, with many live-answered calls still to come, is slowed
        (the pacing rate) rather than held one to one for hours; a day near its end, or a
        small day, is paced one to one before ``DAY_MARGIN`` more abandoned calls would put
        it at the cap."""
        cap = self.limits.abandoned_rate_cap
        # An allowance of 0 is DAY_MARGIN more abandoned calls reaching the cap; the small
        # epsilon keeps 0.03 x 100 - 3 (4e-16) from reading as room for them.
        return self.pacing_rate >= cap or self.day_allowance < 1e-9

    @property
    def free_handlers(self) -> float:
        """Available handlers, handlers wrapping up and the handlers on a call expected to
        finish soon, less the patients waiting for one.

        At or over the abandoned-call cap only available handlers count: every call then has
        a handler free for it now, not soon."""
        soon = 0.0 if self.at_cap else self.handlers_wrapping_up + self.handlers_finishing_soon
        return self.handlers_available + soon - self.patients_waiting

    @property
    def capacity_in_wait(self) -> float:
        """The handlers who can take a patient before the patient is abandoned: available,
        wrapping up, or expected to finish their call within the lead time plus the hold wait;
        less the patients waiting for one."""
        return (
            self.handlers_available
            + self.handlers_wrapping_up
            + self.handlers_finishing_in_wait
            - self.patients_waiting
        )

    @property
    def answered_undecided(self) -> int:
        """The undecided calls a person has answered (never more than the undecided calls)."""
        return min(self.calls_answered_undecided, self.calls_undecided)


@dataclass(frozen=True)
class PacingDecision:
    """How many calls may start now, which priorities may be dispatched, and why zero."""

    calls_allowed: int
    reason: HoldReason | None
    priorities: tuple[Priority, ...]
    calls_per_free_handler: float
    abandoned_rate: float


def throttle(abandoned_rate: float, cap: float) -> float:
    """1 (full pacing) until the rate is ``THROTTLE_FROM`` of the cap, falling linearly to 0
    (one call per free handler) at the cap. Non-increasing in the rate."""
    share = abandoned_rate / cap
    if share <= THROTTLE_FROM:
        return 1.0
    return max(0.0, (1.0 - share) / (1.0 - THROTTLE_FROM))


def expected_calls_per_handoff(inputs: PacingInputs) -> float:
    """Calls placed per patient who asks for a handler, from the measured rates (capped)."""
    handoff_chance = inputs.answer_rate * inputs.speak_rate
    return 1 / max(handoff_chance, 1 / MAX_CALLS_PER_FREE_HANDLER)


def calls_per_free_handler(inputs: PacingInputs) -> float:
    """The pacing ratio: calls outstanding per free handler, from the expected calls per handoff
    (no abandoned call today) down to 1 (a handler for every call) at the cap."""
    if inputs.at_cap:
        return 1.0
    headroom = throttle(inputs.pacing_rate, inputs.limits.abandoned_rate_cap)
    ratio = 1.0 + headroom * (expected_calls_per_handoff(inputs) - 1.0)
    measured = inputs.measured_calls
    if measured >= FULL_PACING_MEASURED_CALLS or ratio <= START_CALLS_PER_FREE_HANDLER:
        return ratio
    share = max(0, measured - MIN_MEASURED_CALLS) / (
        FULL_PACING_MEASURED_CALLS - MIN_MEASURED_CALLS
    )
    return START_CALLS_PER_FREE_HANDLER + share * (ratio - START_CALLS_PER_FREE_HANDLER)


def undecided_load(inputs: PacingInputs, ratio: float) -> float:
    """The calls in flight that may still bring a patient, in units of a call just placed: a
    call a person has answered brings one with the speak-to-someone rate alone, 1 / answer rate
    times as likely as a call still ringing; but never more than a whole free handler's share
    (``ratio`` calls), nor less than one call. Counting it as one call would start too many
    calls whenever many people are hearing the greeting at once, as at the start of a shift."""
    answered = inputs.answered_undecided
    weight = ratio if inputs.answer_rate <= 0 else min(ratio, 1 / inputs.answer_rate)
    return inputs.calls_undecided + answered * (max(1.0, weight) - 1.0)


def _calls_for(inputs: PacingInputs, free_handlers: float, ratio: float) -> int:
    # The small epsilon keeps 4.0 from flooring to 3 through rounding.
    return math.floor(free_handlers * ratio - undecided_load(inputs, ratio) + 1e-9)


def _limit(inputs: PacingInputs, ratio: float) -> tuple[int, HoldReason | None]:
    """Calls allowed by each limit in turn, and the first limit that allows none."""
    limits = inputs.limits
    free = inputs.free_handlers
    by_concurrency = limits.max_concurrent_calls - inputs.calls_in_flight
    by_rate = (
        math.floor(limits.max_calls_per_second * inputs.recent_seconds)
        - inputs.calls_started_recently
    )
    by_handlers = _calls_for(inputs, free, ratio)
    checks = (
        (free, HoldReason.NO_HANDLER),
        (by_concurrency, HoldReason.CONCURRENCY_LIMIT),
        (by_rate, HoldReason.CALL_RATE_LIMIT),
        (
            _calls_for(inputs, free, expected_calls_per_handoff(inputs)),
            HoldReason.HANDLERS_COVERED,
        ),
    )
    for allowed, reason in checks:
        if allowed <= 0:
            return 0, reason
    if by_handlers <= 0:
        if inputs.at_cap:
            return 0, HoldReason.ABANDON_CAP_REACHED
        return 0, HoldReason.ABANDON_CAP_NEAR
    allowed = min(by_concurrency, by_rate, by_handlers)
    if inputs.at_cap:
        return allowed, None
    answered = inputs.answered_undecided
    by_risk = pacing_risk.calls_within_risk(
        answered=answered,
        ringing=inputs.calls_undecided - answered,
        speak_rate=inputs.speak_rate if inputs.risk_speak_rate is None else inputs.risk_speak_rate,
        answer_rate=(
            inputs.answer_rate if inputs.risk_answer_rate is None else inputs.risk_answer_rate
        ),
        live_rate=inputs.answer_rate,
        capacity=inputs.capacity_in_wait,
        cap=RISK_SHARE * limits.abandoned_rate_cap,
        allowance=inputs.day_allowance,
        upto=allowed,
    )
    if by_risk <= 0:
        return 0, HoldReason.ABANDON_RISK
    return by_risk, None


def decide(inputs: PacingInputs) -> PacingDecision:
    """How many outbound calls may start now (pure), and which priorities may be dispatched."""
    priorities = tuple(p for p in PRIORITY_ORDER if p not in inputs.paused_priorities)
    ratio = calls_per_free_handler(inputs)
    if priorities:
        allowed, reason = _limit(inputs, ratio)
    else:
        allowed, reason = 0, HoldReason.PAUSED
    return PacingDecision(allowed, reason, priorities, ratio, inputs.abandoned_rate)


def smoothed_rate(successes: int, trials: int, prior: float, weight: int = PRIOR_WEIGHT) -> float:
    """successes / trials, pulled towards ``prior`` as if it were ``weight`` more trials."""
    return (successes + prior * weight) / (trials + weight)


def cautious_rate(
    successes: int, trials: int, prior: float, weight: int = PRIOR_WEIGHT, z: float = RISK_RATE_Z
) -> float:
    """``smoothed_rate`` plus ``z`` standard errors (of a share of ``trials + weight``), between 0
    and 1: a rate the measured one is unlikely to be far under (a negative ``z``: far over)."""
    rate = smoothed_rate(successes, trials, prior, weight)
    return min(1.0, max(0.0, rate + z * math.sqrt(rate * (1 - rate) / (trials + weight))))


def _count(session: Session, *conditions: ColumnElement[bool]) -> int:
    return session.scalar(select(func.count()).select_from(ContactAttempt).where(*conditions)) or 0


def gather_inputs(
    session: Session,
    config: EngineConfig,
    moment: datetime,
    *,
    recent: timedelta = timedelta(seconds=1),
) -> PacingInputs:
    """Measure pacing's inputs at ``moment``; every query reads an index (handler state is a
    small table; attempts by state or ``created_at``; handoffs by ``queued_at``)."""
    from rmc_outreach.dispatch import calls_in_flight

    by_state = dict(
        session.execute(
            select(Handler.state, func.count())
            .where(
                or_(
                    Handler.state == HandlerState.AVAILABLE,
                    and_(
                        Handler.state == HandlerState.WRAP_UP,
                        Handler.state_changed_at >= moment - WRAP_UP_SOON,
                    ),
                )
            )
            .group_by(Handler.state)
        ).all()
    )
    being_offered = (
        select(HandoffOffer.id)
        .where(HandoffOffer.handoff_id == Handoff.id, HandoffOffer.result.is_(None))
        .exists()
    )
    waiting = (
        session.scalar(
            select(func.count())
            .select_from(Handoff)
            .where(
                Handoff.queued_at >= moment - config.hold_wait - WAITING_GRACE,
                Handoff.connected_at.is_(None),
                Handoff.ended_at.is_(None),
                Handoff.abandoned.is_(False),
                ~being_offered,
            )
        )
        or 0
    )
    in_flight = calls_in_flight(session)
    in_flight_call = and_(
        ContactAttempt.state.in_(attempts.IN_FLIGHT_STATES),
        ContactAttempt.channel == Channel.CALL,
    )
    machine = ContactAttempt.answered_by.in_(sorted(MACHINE_ANSWERS))
    decided, answered_undecided = session.execute(
        select(
            func.count().filter(or_(ContactAttempt.keypad_choice.is_not(None), machine)),
            func.count().filter(
                ContactAttempt.keypad_choice.is_(None),
                ContactAttempt.answered_by.is_not(None),
                ~machine,
            ),
        ).where(in_flight_call)
    ).one()
    recent_calls = and_(
        ContactAttempt.created_at >= moment - RATE_WINDOW,
        ContactAttempt.created_at <= moment,
        ContactAttempt.channel == Channel.CALL,
    )
    final = ContactAttempt.state == AttemptState.FINAL
    live_answered = abandonment.live_answered()
    placed, live, live_decided, first_call = session.execute(
        select(
            func.count().filter(or_(final, ContactAttempt.answered_by.is_not(None), live_answered)),
            func.count().filter(live_answered),
            func.count().filter(
                live_answered, or_(final, ContactAttempt.keypad_choice.is_not(None))
            ),
            func.min(ContactAttempt.created_at),
        ).where(recent_calls)
    ).one()
    handoffs = (
        session.scalar(
            select(func.count())
            .select_from(Handoff)
            .join(ContactAttempt, ContactAttempt.id == Handoff.attempt_id)
            .where(recent_calls)
        )
        or 0
    )
    day = abandonment.day_figures(session, config.window.local(moment).date(), config.window)
    answer_rate = smoothed_rate(live, placed, ANSWER_RATE_PRIOR)
    calls_undecided = max(0, in_flight - decided)
    finishing_soon, finishing_in_wait = talk_times.handlers_finishing(
        session, moment, config.hold_wait, RATE_WINDOW
    )
    started = _count(
        session,
        ContactAttempt.created_at > moment - recent,
        ContactAttempt.created_at <= moment,
        ContactAttempt.channel == Channel.CALL,
    )
    return PacingInputs(
        limits=config.pacing_limits,
        handlers_available=by_state.get(HandlerState.AVAILABLE, 0),
        handlers_wrapping_up=by_state.get(HandlerState.WRAP_UP, 0),
        handlers_finishing_soon=finishing_soon,
        handlers_finishing_in_wait=finishing_in_wait,
        patients_waiting=waiting,
        calls_in_flight=in_flight,
        calls_undecided=calls_undecided,
        calls_answered_undecided=answered_undecided,
        answer_rate=answer_rate,
        speak_rate=smoothed_rate(min(handoffs, live_decided), live_decided, SPEAK_RATE_PRIOR),
        risk_answer_rate=cautious_rate(live, placed, ANSWER_RATE_PRIOR),
        risk_speak_rate=cautious_rate(min(handoffs, live_decided), live_decided, SPEAK_RATE_PRIOR),
        abandoned_today=day.abandoned,
        live_answered_today=day.live_answered,
        calls_started_recently=started,
        recent_seconds=recent.total_seconds(),
        paused_priorities=paused_priorities(session),
        measured_calls=placed,
        live_expected_rest_of_day=day_forecast.expected_live(
            session,
            config,
            moment,
            live_recent=live,
            window=RATE_WINDOW,
            answer_rate=cautious_rate(live, placed, ANSWER_RATE_PRIOR, z=-RISK_RATE_Z),
            calls_undecided=calls_undecided,
            since=first_call,
        ),
    )


def _scope(scope: Priority | str) -> str:
    if scope == ALL_PRIORITIES_SCOPE:
        return ALL_PRIORITIES_SCOPE
    try:
        return Priority(scope).value
    except ValueError:
        choices = ", ".join([ALL_PRIORITIES_SCOPE, *(p.value for p in PRIORITY_ORDER)])
        raise ValueError(f"a pause scope must be one of {choices}, got {scope!r}") from None


def pause(
    session: Session,
    scope: Priority | str,
    *,
    reason: str,
    actor_label: str,
    user_id: int | None = None,
) -> bool:
    """Pause outreach for ``scope`` (``"all"`` or a priority); True if it was not paused
    already. Recorded in the audit trail either way."""
    key = _scope(scope)
    reason = " ".join(reason.split())
    if not reason or len(reason) > 200:
        raise ValueError("a pause needs a reason of 1-200 characters")
    existing = session.get(OutreachPause, key, with_for_update=True)
    if existing is None:
        session.add(
            OutreachPause(scope=key, paused_at=now(), paused_by_user_id=user_id, reason=reason)
        )
        session.flush()
    record_audit_event(
        session,
        actor_label=actor_label,
        actor_user_id=user_id,
        action="outreach.pause",
        outcome="success" if existing is None else "already_paused",
        object_type="outreach_scope",
        object_id=key,
        detail={"reason": reason},
    )
    return existing is None


def resume(
    session: Session, scope: Priority | str, *, actor_label: str, user_id: int | None = None
) -> bool:
    """Resume outreach for ``scope``; True if it was paused. Recorded in the audit trail.

    Resuming one priority while ``"all"`` is paused leaves it paused (resume ``"all"`` too).
    """
    key = _scope(scope)
    existing = session.get(OutreachPause, key, with_for_update=True)
    if existing is not None:
        session.delete(existing)
        session.flush()
    record_audit_event(
        session,
        actor_label=actor_label,
        actor_user_id=user_id,
        action="outreach.resume",
        outcome="success" if existing is not None else "not_paused",
        object_type="outreach_scope",
        object_id=key,
    )
    return existing is not None


def paused_priorities(session: Session) -> frozenset[Priority]:
    """The priorities outreach is paused for now (every one while ``"all"`` is paused)."""
    scopes = set(session.scalars(select(OutreachPause.scope)))
    if ALL_PRIORITIES_SCOPE in scopes:
        return frozenset(PRIORITY_ORDER)
    return frozenset(Priority(scope) for scope in scopes)


def pauses(session: Session) -> list[OutreachPause]:
    """The paused scopes, with who paused them, when and why (oldest first)."""
    return list(session.scalars(select(OutreachPause).order_by(OutreachPause.paused_at)))
