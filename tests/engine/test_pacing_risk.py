"""Pacing bounds the calls in flight by the abandoned calls they risk (``pacing_risk``), and
paces a day one to one before two more abandoned calls would put it over the cap."""

from __future__ import annotations

import math
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import Engine

from rmc_outreach import day_forecast, pacing
from rmc_outreach.db import session_scope
from rmc_outreach.engine_config import EngineConfig
from rmc_outreach.models import AttemptState, Channel, ReferralStatus
from rmc_outreach.pacing import HoldReason, decide
from rmc_outreach.pacing_risk import (
    calls_within_risk,
    expected_overflow,
    patients_pmf,
)
from tests.engine.support import WEDNESDAY_10AM, WEDNESDAY_EVENING
from tests.engine.test_pacing import add_call, inputs
from tests.factories import create_referral


@given(
    answered=st.integers(0, 12),
    ringing=st.integers(0, 30),
    speak=st.floats(0, 1),
    chance=st.floats(0, 1),
)
def test_the_patients_brought_are_two_binomials_added(
    answered: int, ringing: int, speak: float, chance: float
) -> None:
    pmf = patients_pmf(answered, ringing, speak, chance)
    assert len(pmf) == answered + ringing + 1
    assert sum(pmf) == pytest.approx(1.0)
    mean = sum(k * p for k, p in enumerate(pmf))
    assert mean == pytest.approx(answered * speak + ringing * chance, abs=1e-9)


def test_expected_overflow_of_a_known_distribution() -> None:
    # Four calls, each bringing a patient with chance 1/2: 0..4 patients with 1,4,6,4,1 / 16.
    pmf = patients_pmf(0, 4, 0.5, 0.5)
    assert pmf == pytest.approx([1 / 16, 4 / 16, 6 / 16, 4 / 16, 1 / 16])
    # Two handlers: 1 patient too many with chance 4/16, 2 with 1/16.
    assert expected_overflow(pmf, 2) == pytest.approx(6 / 16)
    assert expected_overflow(pmf, 1.5) == pytest.approx(0.5 * 6 / 16 + 1.5 * 4 / 16 + 2.5 / 16)
    assert expected_overflow(pmf, 4) == 0.0


def _within_risk(**overrides: float) -> int:
    values: dict[str, float] = {
        "answered": 0,
        "ringing": 0,
        "speak_rate": 0.5,
        "answer_rate": 0.5,
        "capacity": 8.0,
        "cap": 0.03,
        "allowance": math.inf,
        "upto": 100,
    }
    values.update(overrides)
    return calls_within_risk(**values)  # type: ignore[arg-type]


def test_a_round_of_calls_for_handlers_all_free_at_once_is_bounded_by_its_risk() -> None:
    # 8 handlers free at once and nobody finishing soon: the full ratio (4 calls each, 32)
    # would bring more than 8 patients in about one round in three; the most calls whose
    # expected patients beyond 8 stay within 3% of their live-answered calls is fewer.
    calls = _within_risk()
    assert 16 < calls < 32
    for n, bound in ((calls, True), (calls + 1, False)):
        overflow = expected_overflow(patients_pmf(0, n, 0.5, 0.25), 8.0)
        assert (overflow <= 0.03 * n * 0.5) is bound
    # More handlers able to take a patient in time: more calls.
    assert _within_risk(capacity=12.0) > calls
    # Never more than asked for.
    assert _within_risk(upto=5) == 5


def test_calls_in_flight_already_at_risk_leave_no_room() -> None:
    # 30 calls ringing and 6 people hearing the greeting for 4 handlers.
    assert _within_risk(ringing=30, answered=6, capacity=4.0) == 0
    # No handler at all: any call risks a patient with nobody for them.
    assert _within_risk(capacity=0.0) == 0


def test_the_days_allowance_bounds_the_risk_too() -> None:
    unbounded = _within_risk()
    assert _within_risk(allowance=0.05) < unbounded
    # No allowance at all: only calls that cannot bring more patients than handlers.
    assert _within_risk(allowance=0.0) == 8


def test_pacing_holds_calls_whose_risk_is_too_high() -> None:
    # 2 handlers free and nobody finishing in time: 4 calls each would be 8 calls risking
    # about one patient too many in two rounds. 3 calls risk 3 patients with chance 1/64,
    # within half the cap (1.5%) of their 1.5 live-answered calls; 4 would not be.
    alone = inputs(handlers_finishing_in_wait=0.0)
    assert decide(alone).calls_per_free_handler == 4.0
    assert (decide(alone).calls_allowed, decide(alone).reason) == (3, None)
    # Those 4 in flight: nothing more for now, for that risk.
    busy = decide(replace(alone, calls_in_flight=4, calls_undecided=4))
    assert (busy.calls_allowed, busy.reason) == (0, HoldReason.ABANDON_RISK)
    # With handlers finishing their calls in time for a waiting patient: the full ratio.
    assert decide(inputs()).calls_allowed == 8


def test_a_day_is_paced_one_to_one_before_two_more_abandoned_calls_would_put_it_over() -> None:
    # 1 abandoned of 90 live-answered, 10 more expected: two more would make 3 of 100, the cap.
    late = inputs(
        abandoned_today=1,
        live_answered_today=90,
        live_expected_rest_of_day=10.0,
        handlers_wrapping_up=1,
    )
    assert late.abandoned_rate < late.limits.abandoned_rate_cap
    assert late.day_allowance == pytest.approx(0.03 * 100 - 1 - 2)
    decision = decide(late)
    assert (decision.calls_per_free_handler, decision.calls_allowed) == (1.0, 2)
    # With a long afternoon still to come, the same day is paced.
    afternoon = decide(replace(late, live_expected_rest_of_day=200.0))
    assert afternoon.calls_per_free_handler > 1.0
    # A small day: 60 live-answered calls expected in all, none abandoned: two abandoned calls
    # would be 3.3%, so it is paced one to one from the start.
    small = decide(inputs(live_answered_today=5, live_expected_rest_of_day=55.0))
    assert small.calls_per_free_handler == 1.0


def forecast_live(
    live_recent: int, config: EngineConfig, moment: datetime, since: datetime | None = None
) -> float:
    return day_forecast.forecast_live(
        live_recent, config, moment, window=pacing.RATE_WINDOW, since=since
    )


def test_the_rest_of_the_day_is_forecast_from_the_recent_live_answered_calls(
    config: EngineConfig,
) -> None:
    # 10:00, 8 h before the window closes at 18:00; 60 live-answered calls in the last 2 h.
    assert forecast_live(60, config, WEDNESDAY_10AM) == pytest.approx(60 * 4)
    # 08:30: the window opened 30 minutes ago, so the rate is over those 30 minutes.
    half_past_eight = WEDNESDAY_10AM - timedelta(minutes=90)
    assert forecast_live(10, config, half_past_eight) == pytest.approx(10 * 19)
    # 08:02: over at least 10 minutes, not 2.
    two_past = WEDNESDAY_10AM - timedelta(minutes=118)
    assert forecast_live(2, config, two_past) == pytest.approx(2 * 598 / 10)
    # After the window has closed nothing more is expected today.
    assert forecast_live(60, config, WEDNESDAY_EVENING) == 0.0


def test_a_stretch_of_calling_that_has_just_begun_is_forecast_at_its_own_rate(
    config: EngineConfig,
) -> None:
    # 16:40, after a quiet afternoon: the first call of the last 2 h was placed 20 minutes ago
    # and 26 calls have been live-answered since. 80 minutes to closing.
    moment = WEDNESDAY_10AM + timedelta(hours=6, minutes=40)
    began = moment - timedelta(minutes=20)
    assert forecast_live(26, config, moment, since=began) == pytest.approx(26 * 4)
    # Over the whole 2 h window it would read as a sixth of that.
    assert forecast_live(26, config, moment) == pytest.approx(26 * 80 / 120)
    # A stretch begun 3 minutes ago is still read over at least 10 minutes.
    just_now = moment - timedelta(minutes=3)
    assert forecast_live(4, config, moment, since=just_now) == pytest.approx(4 * 8)
    # A first call before today's opening (or the window) changes nothing.
    early = forecast_live(26, config, moment, since=moment - timedelta(hours=9))
    assert early == pytest.approx(forecast_live(26, config, moment))


def test_the_calls_still_due_are_counted_cautiously() -> None:
    # 100 calls at a 0.4 answer rate bring 40 on average, sd 4.9: 2 sd under is 30.2.
    assert day_forecast.due_live(100, 0.4) == pytest.approx(40 - 2 * math.sqrt(24))
    # A handful is worth little, never less than nothing.
    assert day_forecast.due_live(3, 0.4) == 0.0
    assert day_forecast.due_live(0, 0.4) == 0.0
    # With many the count nears the mean.
    assert day_forecast.due_live(10_000, 0.4) / 4000 > 0.97


def test_gathered_inputs_forecast_the_rest_of_the_day(
    database: Engine, config: EngineConfig
) -> None:
    # Three live-answered calls and one unanswered in the last 2 h (the first 100 minutes
    # ago), one live call before.
    for minutes in (10, 50, 100):
        add_call(
            WEDNESDAY_10AM - timedelta(minutes=minutes),
            state=AttemptState.FINAL,
            answered_by="human",
        )
    add_call(WEDNESDAY_10AM - timedelta(minutes=20), state=AttemptState.FINAL)
    add_call(WEDNESDAY_10AM - timedelta(minutes=121), state=AttemptState.FINAL, answered_by="human")
    # 100 referrals due for a call before today's closing: enough for the recent rate's.
    _due_referrals(100, WEDNESDAY_10AM + timedelta(hours=7))
    with session_scope() as session:
        gathered = pacing.gather_inputs(session, config, WEDNESDAY_10AM)
    assert gathered.live_answered_today == 4
    assert gathered.live_expected_rest_of_day == pytest.approx(3 * 480 / 100)


def _due_referrals(count: int, due_at: datetime, **overrides: Any) -> None:
    with session_scope() as session:
        for _ in range(count):
            values: dict[str, Any] = {
                "status": ReferralStatus.IN_OUTREACH,
                "next_action_at": due_at,
                "next_channel": Channel.CALL,
            }
            values.update(overrides)
            create_referral(session, **values)


def test_the_forecast_is_no_more_than_the_calls_still_due_today_can_bring(
    database: Engine, config: EngineConfig
) -> None:
    # The recent rate forecasts 60 x 4 = 240 live-answered calls by closing time, but only 10
    # referrals are due for a call (or an unplanned step) before it, and 2 calls are still
    # ringing: a cautious count of what 12 calls bring at the 0.5 answer rate.
    _due_referrals(8, WEDNESDAY_10AM - timedelta(hours=1))
    _due_referrals(2, WEDNESDAY_10AM + timedelta(hours=7), next_channel=None)
    # Not counted: due tomorrow, due for an SMS, paused by a supervisor, not in outreach.
    _due_referrals(5, WEDNESDAY_10AM + timedelta(days=1))
    _due_referrals(5, WEDNESDAY_10AM, next_channel=Channel.SMS)
    _due_referrals(5, WEDNESDAY_10AM, outreach_paused_at=WEDNESDAY_10AM)
    _due_referrals(5, WEDNESDAY_10AM, status=ReferralStatus.REACHED)

    def expected() -> float:
        with session_scope() as session:
            return day_forecast.expected_live(
                session,
                config,
                WEDNESDAY_10AM,
                live_recent=60,
                window=pacing.RATE_WINDOW,
                answer_rate=0.5,
                calls_undecided=2,
            )

    with session_scope() as session:
        assert day_forecast.calls_due_today(session, config, WEDNESDAY_10AM, upto=100) == 10
        assert day_forecast.calls_due_today(session, config, WEDNESDAY_10AM, upto=4) == 4
    assert expected() == pytest.approx(12 * 0.5 - 2 * math.sqrt(12 * 0.5 * 0.5))
    # With plenty due, the recent rate's forecast stands.
    _due_referrals(1000, WEDNESDAY_10AM)
    assert expected() == pytest.approx(240.0)


def test_the_risk_bound_takes_the_rates_a_standard_error_above_the_measured_ones() -> None:
    # Nothing measured: the prior and its standard error as 20 observations.
    assert pacing.cautious_rate(0, 0, 0.5) == pytest.approx(0.5 + math.sqrt(0.25 / 20))
    # Six handoffs of 15 live-answered calls: 0.46 measured, 0.54 taken.
    measured = pacing.smoothed_rate(6, 15, 0.5)
    assert measured == pytest.approx(16 / 35)
    assert pacing.cautious_rate(6, 15, 0.5) == pytest.approx(
        measured + math.sqrt(measured * (1 - measured) / 35)
    )
    # Hundreds measured: a few per cent more.
    many = pacing.smoothed_rate(900, 1000, 0.5)
    assert pacing.cautious_rate(900, 1000, 0.5) - many < 0.01
    assert pacing.cautious_rate(5, 5, 1.0) == 1.0


def test_pacing_risks_fewer_calls_while_the_rates_are_uncertain() -> None:
    # 2 handlers free and nobody finishing in time: 3 calls at the measured rates (above).
    alone = inputs(handlers_finishing_in_wait=0.0)
    assert decide(alone).calls_allowed == 3
    # The same with the handoff chance a standard error higher (about a third more, as after
    # the first dozen handoffs of a session): fewer calls for that risk.
    unsure = replace(alone, risk_speak_rate=0.67, risk_answer_rate=0.67)
    held = decide(unsure)
    assert held.calls_allowed < 3
    # The ratio (how many calls a free handler is expected to need) is the measured one.
    assert held.calls_per_free_handler == decide(alone).calls_per_free_handler


def test_gathered_inputs_carry_cautious_rates_for_the_risk_bound(
    database: Engine, config: EngineConfig
) -> None:
    for minutes in (10, 20, 30):
        add_call(WEDNESDAY_10AM - timedelta(minutes=minutes), answered_by="human", handoff=False)
    add_call(WEDNESDAY_10AM - timedelta(minutes=40))
    with session_scope() as session:
        gathered = pacing.gather_inputs(session, config, WEDNESDAY_10AM)
    assert gathered.answer_rate == pytest.approx(pacing.smoothed_rate(3, 4, 0.5))
    assert gathered.risk_answer_rate == pytest.approx(pacing.cautious_rate(3, 4, 0.5))
    assert gathered.risk_speak_rate == pytest.approx(pacing.cautious_rate(3, 3, 0.5))
    assert gathered.risk_speak_rate is not None
    assert gathered.risk_speak_rate > gathered.speak_rate
