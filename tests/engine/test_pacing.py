"""Pacing: how many calls may start, the abandoned-call rate, the 72-hour lockout, pauses."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import Engine, select

from rmc_outreach import abandonment, pacing
from rmc_outreach.calendar import CallingWindow
from rmc_outreach.clock import frozen_at
from rmc_outreach.config import Settings
from rmc_outreach.db import session_scope
from rmc_outreach.engine_config import EngineConfig, PacingLimits, engine_config
from rmc_outreach.handlers import change_state, create_handler
from rmc_outreach.models import (
    AttemptOutcome,
    AttemptState,
    AuditEvent,
    Channel,
    HandlerState,
    Handoff,
    HandoffOffer,
    Priority,
    Referral,
)
from rmc_outreach.pacing import HoldReason, PacingInputs, decide
from tests.engine.support import WEDNESDAY_10AM
from tests.factories import create_attempt, create_patient, create_referral, drama_landline

LIMITS = PacingLimits(max_calls_per_second=50, max_concurrent_calls=100)
LONDON = CallingWindow()


def inputs(**overrides: object) -> PacingInputs:
    """Two free handlers, and six on calls expected to end before a waiting patient would be
    abandoned; nothing in flight, a quarter of calls become handoffs, no abandons."""
    values: dict[str, object] = {
        "limits": LIMITS,
        "handlers_available": 2,
        "handlers_finishing_in_wait": 6.0,
        "patients_waiting": 0,
        "calls_in_flight": 0,
        "calls_undecided": 0,
        "answer_rate": 0.5,
        "speak_rate": 0.5,
        "abandoned_today": 0,
        "live_answered_today": 100,
    }
    values.update(overrides)
    return PacingInputs(**values)  # type: ignore[arg-type]


# -- the decision (pure) ----------------------------------------------------------------------


def test_free_handlers_get_as_many_calls_as_are_expected_to_bring_one_patient_each() -> None:
    decision = decide(inputs())
    assert decision.calls_per_free_handler == 4.0
    assert (decision.calls_allowed, decision.reason) == (8, None)
    assert decide(inputs(calls_undecided=5, calls_in_flight=5)).calls_allowed == 3


def test_a_shift_starts_cautiously_until_enough_calls_have_been_measured() -> None:
    # 2 free handlers: 3 calls (1.5 each) until 20 calls are measured, rising in step to the
    # full 4 per handler at 60.
    starting = decide(inputs(measured_calls=0))
    rising = decide(inputs(measured_calls=40))
    measured = decide(inputs(measured_calls=60))

    assert (starting.calls_per_free_handler, starting.calls_allowed) == (1.5, 3)
    assert decide(inputs(measured_calls=20)).calls_per_free_handler == 1.5
    assert (rising.calls_per_free_handler, rising.calls_allowed) == (2.75, 5)
    assert (measured.calls_per_free_handler, measured.calls_allowed) == (4.0, 8)
    throttled = decide(inputs(measured_calls=0, abandoned_today=5))
    assert throttled.calls_per_free_handler == 1.0  # the cap still wins


def test_patients_already_waiting_take_handlers_out_of_the_count() -> None:
    assert decide(inputs(handlers_available=3, patients_waiting=1)).calls_allowed == 8


def test_handlers_wrapping_up_count_as_free_for_calls_that_take_half_a_minute_to_bring_anyone() -> (
    None
):
    # 1 available + 2 wrapping up - 1 waiting = 2 free handlers: 8 calls at 4 per handler.
    decision = decide(inputs(handlers_available=1, handlers_wrapping_up=2, patients_waiting=1))
    assert (decision.calls_allowed, decision.reason) == (8, None)
    # Nobody available yet: calls still start for the handlers about to be free.
    assert decide(inputs(handlers_available=0, handlers_wrapping_up=1)).calls_allowed == 4


def test_at_the_abandoned_call_cap_only_handlers_available_now_count() -> None:
    # 5 abandoned of 100 (a pacing rate of 3.8%): one call per handler free now; the one
    # wrapping up is not counted.
    at_cap = decide(inputs(handlers_available=1, handlers_wrapping_up=1, abandoned_today=5))
    assert (at_cap.calls_per_free_handler, at_cap.calls_allowed) == (1.0, 1)
    nobody = decide(inputs(handlers_available=0, handlers_wrapping_up=2, abandoned_today=5))
    assert (nobody.calls_allowed, nobody.reason) == (0, HoldReason.NO_HANDLER)


@pytest.mark.parametrize(("available", "waiting"), [(0, 0), (0, 3), (2, 2), (2, 5)])
def test_no_call_starts_when_no_handler_is_free(available: int, waiting: int) -> None:
    decision = decide(inputs(handlers_available=available, patients_waiting=waiting))
    assert (decision.calls_allowed, decision.reason) == (0, HoldReason.NO_HANDLER)


def test_no_call_starts_while_every_priority_is_paused() -> None:
    decision = decide(inputs(paused_priorities=frozenset(Priority)))
    assert (decision.calls_allowed, decision.reason, decision.priorities) == (
        0,
        HoldReason.PAUSED,
        (),
    )


def test_a_paused_priority_is_left_out_of_the_priorities_to_dispatch() -> None:
    decision = decide(inputs(paused_priorities=frozenset({Priority.URGENT})))
    assert decision.priorities == (Priority.TWO_WEEK_WAIT, Priority.ROUTINE)
    assert decision.calls_allowed == 8


def test_the_concurrency_and_call_rate_limits_cap_the_calls() -> None:
    limits = PacingLimits(max_calls_per_second=3, max_concurrent_calls=10)
    assert decide(inputs(limits=limits)).calls_allowed == 3
    assert decide(inputs(limits=limits, calls_started_recently=2)).calls_allowed == 1
    decision = decide(inputs(limits=limits, calls_started_recently=3))
    assert (decision.calls_allowed, decision.reason) == (0, HoldReason.CALL_RATE_LIMIT)
    decision = decide(inputs(limits=limits, calls_in_flight=10))
    assert (decision.calls_allowed, decision.reason) == (0, HoldReason.CONCURRENCY_LIMIT)
    assert decide(inputs(limits=limits, calls_in_flight=9)).calls_allowed == 1


def test_calls_slow_down_as_the_abandoned_rate_nears_the_cap_and_go_one_to_one_at_it() -> None:
    # Cap 3%: full pacing to 1.5%, slowing on the pacing rate, (abandoned + 0.75) / (100 + 50)
    # live-answered (the rest of the day unknown: 50 more): 0.5%, 1.2%, 1.8%, 2.5%; one call
    # per free handler once it reaches the cap (3.2%).
    ratios = [
        decide(inputs(abandoned_today=abandoned)).calls_per_free_handler
        for abandoned in (0, 1, 2, 3, 4)
    ]
    assert ratios == [4.0, 4.0, pytest.approx(10 / 3), pytest.approx(2.0), 1.0]
    assert decide(inputs(abandoned_today=4)).calls_allowed == 2


def test_pacing_weighs_the_days_rate_against_the_calls_still_to_come() -> None:
    # Three abandoned calls among the first 114 live-answered are 2.6% of the day so far; with
    # 60 more expected the day is heading for a pacing rate of 2.2% (as if those 60 were
    # abandoned at half the cap).
    early = inputs(abandoned_today=3, live_answered_today=114, live_expected_rest_of_day=60.0)
    assert early.abandoned_rate == pytest.approx(3 / 114)
    assert early.pacing_rate == pytest.approx(3.9 / 174)
    headroom = pacing.throttle(3.9 / 174, 0.03)
    assert headroom > pacing.throttle(3 / 114, 0.03)
    assert decide(early).calls_per_free_handler == pytest.approx(1 + 3 * headroom)
    # With 400 more live-answered calls expected today the same three are 1.75%: slowed less.
    busy_day = replace(early, live_expected_rest_of_day=400.0)
    assert busy_day.pacing_rate == pytest.approx((3 + 0.015 * 400) / 514)
    assert 1 + 3 * headroom < decide(busy_day).calls_per_free_handler < 4.0
    # Fewer than 50 expected count as 50 (the prior): 3.75 / 164.
    assert replace(early, live_expected_rest_of_day=5.0).pacing_rate == pytest.approx(3.75 / 164)
    # A busy day at the cap, with its end near, is paced at (nearly) its own rate: one call
    # per handler.
    late = inputs(abandoned_today=31, live_answered_today=1000, live_expected_rest_of_day=10.0)
    assert late.pacing_rate == pytest.approx(31.75 / 1050)
    assert decide(late).calls_per_free_handler == 1.0


def test_a_held_decision_says_whether_the_cap_or_the_calls_in_flight_hold_it() -> None:
    at_cap = decide(inputs(abandoned_today=5, calls_in_flight=2, calls_undecided=2))
    assert (at_cap.calls_allowed, at_cap.reason) == (0, HoldReason.ABANDON_CAP_REACHED)
    near = decide(inputs(abandoned_today=2, calls_in_flight=6, calls_undecided=6))
    assert (near.calls_allowed, near.reason) == (0, HoldReason.ABANDON_CAP_NEAR)
    covered = decide(inputs(calls_in_flight=8, calls_undecided=8))
    assert (covered.calls_allowed, covered.reason) == (0, HoldReason.HANDLERS_COVERED)


def test_with_no_live_answered_call_today_the_rate_is_zero() -> None:
    assert inputs(live_answered_today=0).abandoned_rate == 0.0


def test_measured_rates_lean_on_the_prior_while_data_is_scarce() -> None:
    assert pacing.smoothed_rate(0, 0, 0.5) == 0.5
    assert pacing.smoothed_rate(1, 1, 0.5) == pytest.approx(11 / 21)
    assert pacing.smoothed_rate(900, 1000, 0.5) == pytest.approx(910 / 1020)


def test_inputs_refuse_impossible_figures() -> None:
    with pytest.raises(ValueError, match="negative"):
        inputs(patients_waiting=-1)
    with pytest.raises(ValueError, match="between 0 and 1"):
        inputs(answer_rate=1.5)


pacing_inputs = st.builds(
    PacingInputs,
    limits=st.builds(
        PacingLimits,
        max_calls_per_second=st.integers(1, 30),
        max_concurrent_calls=st.integers(1, 200),
        abandoned_rate_cap=st.floats(0.001, 0.2),
    ),
    handlers_available=st.integers(0, 60),
    handlers_wrapping_up=st.integers(0, 10),
    handlers_finishing_soon=st.floats(0, 10),
    patients_waiting=st.integers(0, 30),
    calls_in_flight=st.integers(0, 250),
    calls_undecided=st.integers(0, 250),
    calls_answered_undecided=st.integers(0, 250),
    answer_rate=st.floats(0, 1),
    speak_rate=st.floats(0, 1),
    abandoned_today=st.integers(0, 50),
    live_answered_today=st.integers(0, 2000),
    calls_started_recently=st.integers(0, 40),
    recent_seconds=st.sampled_from([1.0, 2.0]),
    paused_priorities=st.frozensets(st.sampled_from(list(Priority))),
)


@given(pacing_inputs)
def test_pacing_never_exceeds_the_call_rate_or_concurrency_limits(snapshot: PacingInputs) -> None:
    decision = decide(snapshot)
    limits = snapshot.limits
    assert decision.calls_allowed >= 0
    assert snapshot.calls_in_flight + decision.calls_allowed <= max(
        limits.max_concurrent_calls, snapshot.calls_in_flight
    )
    started = snapshot.calls_started_recently + decision.calls_allowed
    assert started <= max(
        limits.max_calls_per_second * snapshot.recent_seconds, snapshot.calls_started_recently
    )
    assert (decision.calls_allowed == 0) == (decision.reason is not None)


@given(pacing_inputs)
def test_pacing_allows_nothing_when_paused_or_no_handler_is_free(snapshot: PacingInputs) -> None:
    if snapshot.free_handlers <= 0 or len(snapshot.paused_priorities) == len(Priority):
        assert decide(snapshot).calls_allowed == 0


@given(pacing_inputs, st.integers(0, 50), st.integers(0, 50))
def test_pacing_never_allows_more_calls_as_the_abandoned_rate_rises(
    snapshot: PacingInputs, lower: int, extra: int
) -> None:
    fewer = decide(replace(snapshot, abandoned_today=lower))
    more = decide(replace(snapshot, abandoned_today=lower + extra))
    assert more.calls_allowed <= fewer.calls_allowed
    assert more.calls_per_free_handler <= fewer.calls_per_free_handler


# -- the abandoned-call rate ------------------------------------------------------------------

# Thursday 2 July 2026 in London is BST (UTC+1): the local day runs 23:00 UTC to 23:00 UTC.
SUMMER_DAY = date(2026, 7, 2)
SUMMER_START = datetime(2026, 7, 1, 23, 0, tzinfo=UTC)


def add_call(
    created_at: datetime,
    *,
    answered_by: str | None = None,
    keypad_choice: str | None = None,
    handoff: bool | None = None,
    channel: Channel = Channel.CALL,
    state: AttemptState = AttemptState.FINAL,
) -> int:
    """A finished call (or SMS) attempt on a new referral, with a handoff (abandoned when
    ``handoff`` is True) when asked; returns the referral id."""
    with session_scope() as session:
        referral = create_referral(session, status="in_outreach")
        attempt = create_attempt(
            session,
            referral,
            created_at=created_at,
            channel=channel,
            state=state,
            outcome=AttemptOutcome.NO_ANSWER if state == AttemptState.FINAL else None,
            answered_by=answered_by,
            keypad_choice=keypad_choice,
        )
        if handoff is not None:
            session.add(
                Handoff(
                    attempt_id=attempt.id,
                    referral_id=referral.id,
                    queued_at=created_at + timedelta(seconds=30),
                    ended_at=created_at + timedelta(seconds=90),
                    abandoned=handoff,
                )
            )
        return referral.id


def test_the_abandoned_rate_of_a_day_is_abandoned_over_live_answered_calls_that_local_day(
    database: Engine,
) -> None:
    morning = SUMMER_START + timedelta(hours=10)
    for minute in range(20):  # 20 answered by a person, no choice
        add_call(morning + timedelta(minutes=minute), answered_by="human")
    for minute in range(17):  # 17 chose to speak to someone and were taken
        add_call(morning + timedelta(hours=1, minutes=minute), keypad_choice="1", handoff=False)
    for minute in range(2):  # 2 chose to speak to someone and nobody took them
        add_call(morning + timedelta(hours=2, minutes=minute), keypad_choice="1", handoff=True)
    # 00:30 BST belongs to the day (23:30 UTC the evening before), and it was abandoned.
    add_call(SUMMER_START + timedelta(minutes=30), keypad_choice="1", handoff=True)
    # Not live-answered: a machine, nobody, and an SMS.
    add_call(morning, answered_by="machine_end_beep")
    add_call(morning)
    add_call(morning, channel=Channel.SMS)
    # Other local days: 23:30 BST the day before (22:30 UTC) and 00:00 BST the day after.
    add_call(SUMMER_START - timedelta(minutes=30), keypad_choice="1", handoff=True)
    add_call(SUMMER_START + timedelta(days=1), keypad_choice="1", handoff=True)
    # An inbound caller who waited in vain is not an outbound call.
    with session_scope() as session:
        session.add(Handoff(queued_at=morning, ended_at=morning, abandoned=True))

    with session_scope() as session:
        figures = abandonment.day_figures(session, SUMMER_DAY, LONDON)
        assert (figures.live_answered, figures.abandoned) == (40, 3)
        assert abandonment.abandoned_rate(session, SUMMER_DAY, LONDON) == 3 / 40
        assert abandonment.abandoned_rate(session, date(2026, 7, 4), LONDON) == 0.0


# -- the 72-hour lockout ----------------------------------------------------------------------


def test_a_referral_is_locked_for_72_hours_after_an_abandoned_call_and_free_at_72(
    database: Engine,
) -> None:
    referral_id = add_call(WEDNESDAY_10AM, keypad_choice="1", handoff=True)
    abandoned_at = WEDNESDAY_10AM + timedelta(seconds=90)
    other = add_call(WEDNESDAY_10AM, keypad_choice="1", handoff=False)
    locked_at = abandoned_at + timedelta(hours=71, minutes=59)
    lifted_at = abandoned_at + timedelta(hours=72)
    with session_scope() as session:
        expected = abandoned_at + timedelta(hours=72)
        assert abandonment.redial_locked_until(session, referral_id, locked_at) == expected
        assert abandonment.redial_locked_until(session, referral_id, lifted_at) is None
        assert abandonment.redial_locked_until(session, other, locked_at) is None
        locked = set(session.scalars(abandonment.locked_referral_ids(locked_at)))
        assert abandonment.locked_referral_id_set(session, locked_at) == locked
        assert locked == {referral_id}
        assert set(session.scalars(abandonment.locked_referral_ids(lifted_at))) == set()
        # Shorter lockouts are configurable (production refuses them).
        assert (
            abandonment.redial_locked_until(session, referral_id, locked_at, timedelta(hours=24))
            is None
        )


def test_the_lockout_covers_the_number_and_every_referral_of_a_patient_on_it(
    database: Engine,
) -> None:
    shared = drama_landline(555)
    with session_scope() as session:
        called = create_referral(
            session, patient=create_patient(session, mobile_phone=None, landline_phone=shared)
        )
        same_patient = create_referral(session, patient=called.patient)
        same_home = create_referral(session, patient=create_patient(session, landline_phone=shared))
        unrelated = create_referral(session)
        attempt = create_attempt(
            session, called, created_at=WEDNESDAY_10AM, keypad_choice="1", state="final"
        )
        assert attempt.destination == shared
        session.add(
            Handoff(
                attempt_id=attempt.id,
                referral_id=called.id,
                queued_at=WEDNESDAY_10AM,
                ended_at=WEDNESDAY_10AM + timedelta(minutes=1),
                abandoned=True,
            )
        )
        ids = (called.id, same_patient.id, same_home.id, unrelated.id)
    moment = WEDNESDAY_10AM + timedelta(hours=24)
    with session_scope() as session:
        locked = set(session.scalars(abandonment.locked_referral_ids(moment)))
        assert abandonment.locked_referral_id_set(session, moment) == locked
        assert locked == set(ids[:3])
        unlocked = session.scalars(
            select(Referral.id).where(Referral.id.not_in(abandonment.locked_referral_ids(moment)))
        ).all()
        assert list(unlocked) == [ids[3]]
        until = WEDNESDAY_10AM + timedelta(minutes=1, hours=72)
        assert abandonment.redial_locked_until(session, shared, moment) == until
        assert abandonment.redial_locked_until(session, ids[2], moment) == until
        assert abandonment.redial_locked_until(session, ids[3], moment) is None
        assert abandonment.redial_locked_until(session, drama_landline(556), moment) is None


# -- pause and resume -------------------------------------------------------------------------


def test_outreach_pauses_and_resumes_per_priority_and_for_all(database: Engine) -> None:
    with frozen_at(WEDNESDAY_10AM), session_scope() as session:
        assert pacing.pause(
            session, Priority.ROUTINE, reason="clinic list under review", actor_label="sup1"
        )
        assert not pacing.pause(session, "routine", reason="again", actor_label="sup1")
        assert pacing.paused_priorities(session) == {Priority.ROUTINE}
        assert pacing.pause(session, "all", reason="telephony incident", actor_label="sup1")
        assert pacing.paused_priorities(session) == frozenset(Priority)
    with session_scope() as session:
        [everything, routine] = sorted(pacing.pauses(session), key=lambda p: p.scope)
        assert (everything.scope, everything.reason) == ("all", "telephony incident")
        assert routine.paused_at == WEDNESDAY_10AM
        assert pacing.resume(session, "all", actor_label="sup1")
        assert pacing.paused_priorities(session) == {Priority.ROUTINE}
        assert pacing.resume(session, Priority.ROUTINE, actor_label="sup1")
        assert not pacing.resume(session, Priority.ROUTINE, actor_label="sup1")
        assert pacing.paused_priorities(session) == frozenset()
    with session_scope() as session:
        trail = session.execute(
            select(AuditEvent.action, AuditEvent.object_id, AuditEvent.outcome).order_by(
                AuditEvent.id
            )
        )
        assert [tuple(row) for row in trail] == [
            ("outreach.pause", "routine", "success"),
            ("outreach.pause", "routine", "already_paused"),
            ("outreach.pause", "all", "success"),
            ("outreach.resume", "all", "success"),
            ("outreach.resume", "routine", "success"),
            ("outreach.resume", "routine", "not_paused"),
        ]


def test_a_pause_needs_a_known_scope_and_a_reason(database: Engine) -> None:
    with session_scope() as session:
        with pytest.raises(ValueError, match="scope must be one of all, 2ww, urgent, routine"):
            pacing.pause(session, "cardiology", reason="x", actor_label="sup1")
        with pytest.raises(ValueError, match="reason"):
            pacing.pause(session, "all", reason="  ", actor_label="sup1")


# -- measuring the inputs ---------------------------------------------------------------------


def test_gathered_inputs_count_the_floor_the_calls_and_today(
    database: Engine, config: EngineConfig
) -> None:
    moment = WEDNESDAY_10AM
    with frozen_at(moment - timedelta(minutes=30)), session_scope() as session:
        handler_ids = [
            create_handler(session, None, f"Handler {n}", f"client:h{n}").id for n in range(4)
        ]
        for handler_id in handler_ids[:3]:
            change_state(session, handler_id, HandlerState.AVAILABLE)
        change_state(session, handler_ids[2], HandlerState.AWAY)
        # Two more: one wrapping up after a call (for 30 s), one ringing for a waiting patient.
        wrapping, ringing = (
            create_handler(session, None, f"Handler {n}", f"client:h{n}").id for n in (4, 5)
        )
        for state in (HandlerState.AVAILABLE, HandlerState.RINGING, HandlerState.ON_CALL):
            change_state(session, wrapping, state)
        change_state(session, ringing, HandlerState.AVAILABLE)
        change_state(session, ringing, HandlerState.RINGING)
        # And one who has been wrapping up for half an hour: not free soon.
        stale = create_handler(session, None, "Handler 6", "client:h6").id
        for state in (
            HandlerState.AVAILABLE,
            HandlerState.RINGING,
            HandlerState.ON_CALL,
            HandlerState.WRAP_UP,
        ):
            change_state(session, stale, state)
    with frozen_at(moment - timedelta(seconds=30)), session_scope() as session:
        change_state(session, wrapping, HandlerState.WRAP_UP)
    # Earlier today: 10 finished calls, 4 live-answered, 2 handoffs, 1 abandoned.
    for minute in range(6):
        add_call(moment - timedelta(minutes=20 + minute))
    add_call(moment - timedelta(minutes=15), answered_by="human")
    add_call(moment - timedelta(minutes=14), keypad_choice="2")
    add_call(moment - timedelta(minutes=13), keypad_choice="1", handoff=False)
    add_call(moment - timedelta(minutes=12), keypad_choice="1", handoff=True)
    with session_scope() as session:
        # In flight: one decided (a machine answered), one waiting for a handler, one ringing,
        # and one waiting with a handler being rung for them (not counted as waiting).
        handoffs_made = 0
        for answered_by, choice in (
            ("machine_start", None),
            ("human", "1"),
            (None, None),
            ("human", "1"),
        ):
            referral = create_referral(session, status="in_outreach", next_action_at=None)
            attempt = create_attempt(
                session,
                referral,
                created_at=moment - timedelta(milliseconds=500),
                state=AttemptState.SENT,
                answered_by=answered_by,
                keypad_choice=choice,
            )
            if choice == "1":
                handoff = Handoff(
                    attempt_id=attempt.id,
                    referral_id=referral.id,
                    queued_at=moment - timedelta(seconds=10),
                )
                session.add(handoff)
                if handoffs_made:  # the second: a handler's phone is ringing for them
                    session.flush()
                    session.add(HandoffOffer(handoff_id=handoff.id, handler_id=ringing))
                handoffs_made += 1
        pacing.pause(session, Priority.URGENT, reason="review", actor_label="sup1")
    with session_scope() as session:
        gathered = pacing.gather_inputs(session, config, moment)
    assert gathered.limits == config.pacing_limits
    assert (gathered.handlers_available, gathered.patients_waiting) == (2, 1)
    assert gathered.handlers_wrapping_up == 1  # not the one wrapping up for half an hour
    assert (gathered.calls_in_flight, gathered.calls_undecided) == (4, 1)
    assert (gathered.abandoned_today, gathered.live_answered_today) == (1, 6)
    assert gathered.calls_started_recently == 4
    # Rates from the 10 finished calls and the 3 in flight whose answer is known (the one
    # still ringing is not): 6 of 13 live-answered, 4 of those 6 handed off.
    assert gathered.measured_calls == 13
    assert gathered.answer_rate == pacing.smoothed_rate(6, 13, pacing.ANSWER_RATE_PRIOR)
    assert gathered.speak_rate == pacing.smoothed_rate(4, 6, pacing.SPEAK_RATE_PRIOR)
    assert gathered.paused_priorities == {Priority.URGENT}


# -- configuration ----------------------------------------------------------------------------


def test_pacing_settings_come_from_the_environment(config: EngineConfig) -> None:
    assert config.pacing_limits == PacingLimits(
        max_calls_per_second=1,
        max_concurrent_calls=20,
        abandoned_rate_cap=0.03,
        redial_lockout=timedelta(hours=72),
    )


def test_pacing_settings_are_read_and_checked(settings: Settings) -> None:
    env = {
        "RMC_MAX_CALLS_PER_SECOND": "5",
        "RMC_MAX_CALLS_IN_FLIGHT": "40",
        "RMC_ABANDONED_RATE_CAP": "0.02",
        "RMC_REDIAL_LOCKOUT_HOURS": "96",
    }
    limits = engine_config(settings, env=env).pacing_limits
    assert limits == PacingLimits(5, 40, 0.02, timedelta(hours=96))
    for name, value, message in (
        ("RMC_MAX_CALLS_PER_SECOND", "0", "RMC_MAX_CALLS_PER_SECOND must be positive"),
        ("RMC_MAX_CALLS_PER_SECOND", "fast", "must be a whole number"),
        ("RMC_ABANDONED_RATE_CAP", "3%", "must be a fraction such as 0.03"),
        ("RMC_ABANDONED_RATE_CAP", "0", "above 0 and at most 1"),
        ("RMC_REDIAL_LOCKOUT_HOURS", "-1", "must be positive"),
    ):
        with pytest.raises(ValueError, match=message):
            engine_config(settings, env={name: value})
    production = replace(settings, mode="production", twilio_caller_id="+441134960000")
    with pytest.raises(ValueError, match=r"may not exceed Ofcom's 0\.03 in production"):
        engine_config(production, env={"RMC_ABANDONED_RATE_CAP": "0.05"})
    with pytest.raises(ValueError, match="shorter than Ofcom's 72 hours"):
        engine_config(production, env={"RMC_REDIAL_LOCKOUT_HOURS": "48"})
    assert engine_config(production, env={"RMC_ABANDONED_RATE_CAP": "0.01"}).abandoned_rate_cap == (
        0.01
    )
