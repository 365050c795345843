"""Pacing counts handlers on a call as free soon with the chance their call ends within the lead
time, judged from recent talk times and the calls in progress (``talk_times``)."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest
from sqlalchemy import Engine

from rmc_outreach import pacing, talk_times
from rmc_outreach.clock import frozen_at
from rmc_outreach.db import session_scope
from rmc_outreach.engine_config import EngineConfig
from rmc_outreach.handlers import change_state, create_handler
from rmc_outreach.models import AttemptState, HandlerState, Handoff
from rmc_outreach.pacing import HoldReason, decide
from rmc_outreach.talk_times import TalkSurvival
from tests.engine.support import WEDNESDAY_10AM
from tests.engine.test_pacing import inputs
from tests.factories import create_attempt, create_referral

# Ten talk times, 60 s to 240 s in steps of 20 s.
TALKS = [60.0 + 20 * n for n in range(10)]


def chance_ending_within(
    elapsed_s: float, horizon_s: float, ended_s: list[float], in_progress_s: tuple[float, ...] = ()
) -> float:
    return TalkSurvival(ended_s, in_progress_s).chance_ending_within(elapsed_s, horizon_s)


def test_the_chance_is_the_share_of_calls_as_long_as_this_one_that_ended_within_the_horizon() -> (
    None
):
    # A call 100 s old: 7 measured calls lasted longer (120..240 s); of those, 120 and 140 s
    # ended within 45 s more.
    assert chance_ending_within(100, 45, TALKS) == pytest.approx(2 / 7)
    # A new call: every measured call lasted longer than 0 s; none ended within 30 s.
    assert chance_ending_within(0, 30, TALKS) == 0.0
    # 230 s in: only the 240 s call lasted this long, and it ended within 30 s more.
    assert chance_ending_within(230, 30, TALKS) == 1.0


def test_no_chance_is_claimed_without_enough_talk_times_or_for_a_call_longer_than_any() -> None:
    assert chance_ending_within(100, 45, TALKS[:-1]) == 0.0  # 9 talk times: too few
    assert chance_ending_within(240, 1000, TALKS) == 0.0  # longer than every measured call


def test_calls_still_in_progress_count_as_lasting_at_least_as_long_as_they_have() -> None:
    # A call 50 s old, horizon 100 s: of the 10 ended calls, 5 ended by 150 s (1/2). With ten
    # more calls in progress at 100 s, Kaplan-Meier: at risk 20 at 60 s, 19 at 80 s, 18 at
    # 100 s (8 ended calls and the 10 in progress), 7 at 120 s, 6 at 140 s.
    assert chance_ending_within(50, 100, TALKS) == pytest.approx(0.5)
    still_going = 19 / 20 * 18 / 19 * 17 / 18 * 6 / 7 * 5 / 6
    assert chance_ending_within(50, 100, TALKS, (100.0,) * 10) == pytest.approx(1 - still_going)
    # Calls in progress past every ended one: nothing more is known, the chance is 0.
    assert chance_ending_within(250, 60, TALKS, (300.0, 400.0)) == 0.0


def test_handlers_finishing_soon_count_as_free_for_calls_below_the_cap() -> None:
    # Nobody available; on-call handlers expected to finish soon add up to one free handler.
    soon = decide(inputs(handlers_available=0, handlers_finishing_soon=1.0))
    assert (soon.calls_allowed, soon.reason) == (4, None)
    half = decide(inputs(handlers_available=0, handlers_finishing_soon=0.5))
    assert half.calls_allowed == 2
    # At the cap a call needs a handler free now.
    at_cap = decide(inputs(handlers_available=0, handlers_finishing_soon=2.0, abandoned_today=5))
    assert (at_cap.calls_allowed, at_cap.reason) == (0, HoldReason.NO_HANDLER)
    # A patient already waiting takes the handler expected soon.
    waiting = decide(inputs(handlers_available=0, handlers_finishing_soon=1.0, patients_waiting=1))
    assert (waiting.calls_allowed, waiting.reason) == (0, HoldReason.NO_HANDLER)
    with pytest.raises(ValueError, match="negative"):
        inputs(handlers_finishing_soon=-0.5)


def _timed_handoff(queued_at_s: float, lead_s: float, talk_s: int | None) -> None:
    """A handoff queued ``queued_at_s`` before 10:00 from a call started ``lead_s`` earlier,
    bridged for ``talk_s`` seconds (not bridged when None)."""
    queued_at = WEDNESDAY_10AM - timedelta(seconds=queued_at_s)
    with session_scope() as session:
        referral = create_referral(session, status="in_outreach")
        attempt = create_attempt(
            session,
            referral,
            created_at=queued_at - timedelta(seconds=lead_s),
            state=AttemptState.FINAL,
        )
        session.add(
            Handoff(
                attempt_id=attempt.id,
                referral_id=referral.id,
                queued_at=queued_at,
                connected_at=None if talk_s is None else queued_at + timedelta(seconds=5),
                talk_seconds=talk_s if talk_s is not None else 0,
            )
        )


def test_gathered_inputs_expect_on_call_handlers_to_finish_from_recent_talk_and_lead_times(
    database: Engine, config: EngineConfig
) -> None:
    moment = WEDNESDAY_10AM
    # Ten bridged calls in the last hour talked 60..240 s; each patient was queued 40 s after
    # their call started. Two abandoned handoffs (never bridged) bring no talk time.
    for n, talk_s in enumerate(TALKS):
        _timed_handoff(3600 - 300 * n, 40, int(talk_s))
    for n in range(2):
        _timed_handoff(600 + n, 40, None)
    # One handoff outside the rate window counts for nothing.
    _timed_handoff(3 * 3600, 5, 1000)
    with frozen_at(moment - timedelta(minutes=30)), session_scope() as session:
        handlers = [create_handler(session, None, f"H{n}", f"client:h{n}").id for n in range(3)]
        for handler_id in handlers:
            for state in (HandlerState.AVAILABLE, HandlerState.RINGING):
                change_state(session, handler_id, state)
    # On a call for 100 s, for 10 s and for an hour. With these three calls in progress
    # (Kaplan-Meier), the share of calls still going after 100 s is 9/12 (at risk at 60, 80,
    # 100 s: 12, 11, 10), after 140 s 9/12 x 7/8 x 6/7, after 200 s that x 5/6 x 4/5 x 3/4.
    for handler_id, seconds in zip(handlers, (100, 10, 3600), strict=True):
        with frozen_at(moment - timedelta(seconds=seconds)), session_scope() as session:
            change_state(session, handler_id, HandlerState.ON_CALL)
    with session_scope() as session:
        talk, lead = talk_times.timed_handoffs(session, moment, pacing.RATE_WINDOW)
        wrap_up_s = talk_times.wrap_up_time(session, moment, pacing.RATE_WINDOW)
        gathered = pacing.gather_inputs(session, config, moment)
    assert (talk, lead) == (TALKS, 40.0)
    # Within the 40 s lead time: the 100 s call 1 - 6/8 (counted as free), the 10 s call 0
    # (none ended by 50 s), the hour-long call 0 (longer than any measured call).
    assert gathered.handlers_finishing_soon == pytest.approx(1 / 4)
    # In time to take a patient before the patient is abandoned: within the lead time plus the
    # 60 s hold wait, less the wrap-up after the call (30 s, the prior: none timed yet), 70 s:
    # the 100 s call 1 - 5/8 (still going after 160 s: 9/12 x 7/8 x 6/7 x 5/6), the 10 s call
    # 1 - 10/12.
    assert config.hold_wait == timedelta(seconds=60)
    assert wrap_up_s == 30.0
    assert gathered.handlers_finishing_in_wait == pytest.approx(3 / 8 + 1 / 6)


def test_wrap_ups_are_timed_from_the_handlers_state_changes(
    database: Engine, config: EngineConfig
) -> None:
    moment = WEDNESDAY_10AM
    with frozen_at(moment - timedelta(hours=1)), session_scope() as session:
        handler_id = create_handler(session, None, "Wrapper", "client:wrapper").id
        change_state(session, handler_id, HandlerState.AVAILABLE)
    # Eleven calls, each followed by a wrap-up of 20, 22, ... 40 s; the last still going.
    start = moment - timedelta(minutes=50)
    for n in range(talk_times.MIN_TIMED_HANDOFFS + 1):
        at = start + timedelta(minutes=4 * n)
        for offset, state in ((0, HandlerState.RINGING), (5, HandlerState.ON_CALL)):
            with frozen_at(at + timedelta(seconds=offset)), session_scope() as session:
                change_state(session, handler_id, state)
        with frozen_at(at + timedelta(seconds=100)), session_scope() as session:
            change_state(session, handler_id, HandlerState.WRAP_UP)
        if n < talk_times.MIN_TIMED_HANDOFFS:
            with frozen_at(at + timedelta(seconds=120 + 2 * n)), session_scope() as session:
                change_state(session, handler_id, HandlerState.AVAILABLE)
    with session_scope() as session:
        assert talk_times.wrap_up_time(session, moment, pacing.RATE_WINDOW) == 29.0
        # Nine of them in the last half hour: too few, the prior.
        recent = talk_times.wrap_up_time(session, moment, timedelta(minutes=36))
    assert recent == talk_times.WRAP_UP_PRIOR.total_seconds()


def test_the_lead_time_is_the_prior_until_enough_handoffs_are_timed(
    database: Engine, config: EngineConfig
) -> None:
    for n in range(talk_times.MIN_TIMED_HANDOFFS - 1):
        _timed_handoff(60 + n, 90, 100)
    with session_scope() as session:
        talk, lead = talk_times.timed_handoffs(session, WEDNESDAY_10AM, pacing.RATE_WINDOW)
    assert (len(talk), lead) == (talk_times.MIN_TIMED_HANDOFFS - 1, 30.0)


def test_a_day_over_the_cap_is_paced_one_to_one_unless_many_calls_are_still_to_come() -> None:
    # 1 abandoned of 20 live-answered (5%) and 40 more expected: two more abandoned calls
    # would end the day at 3 of 60, the cap, so every call needs a free handler.
    early = inputs(
        abandoned_today=1,
        live_answered_today=20,
        live_expected_rest_of_day=40.0,
        handlers_wrapping_up=1,
    )
    assert early.pacing_rate < early.limits.abandoned_rate_cap <= early.abandoned_rate
    assert early.day_allowance < 1e-9
    decision = decide(early)
    assert (decision.calls_per_free_handler, decision.calls_allowed) == (1.0, 2)
    assert early.free_handlers == 2  # the handler wrapping up is not counted
    # The same morning with 300 live-answered calls still to come is heading for 1.7%: paced,
    # a little slowed, not held one to one for hours.
    busy = replace(early, live_expected_rest_of_day=300.0)
    assert busy.pacing_rate == pytest.approx((1 + 0.015 * 300) / 320)
    assert 1.0 < decide(busy).calls_per_free_handler < 4.0
    # Back under the cap (1 of 40): paced again, slowed by the throttle.
    recovered = decide(inputs(abandoned_today=1, live_answered_today=40))
    assert recovered.calls_per_free_handler > 1.0
