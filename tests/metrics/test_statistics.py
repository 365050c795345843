"""Every figure of the managers' statistics, checked exactly against a known week
(``tests/metrics/history.py`` works each one out)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import pytest
from sqlalchemy import Engine

from rmc_outreach.abandonment import day_figures
from rmc_outreach.calendar import CallingWindow
from rmc_outreach.db import session_scope
from rmc_outreach.metrics import DateRange, Statistics, statistics
from rmc_outreach.models import Channel, Handoff, Priority
from tests.factories import create_attempt, create_referral
from tests.metrics.history import SEGMENTS, WEEK, at, build_week

WINDOW = CallingWindow()
GENERATED_AT = datetime(2026, 11, 9, 12, 0, tzinfo=UTC)


def week_statistics(date_range: DateRange = WEEK) -> Statistics:
    with session_scope() as session:
        build_week(session)
    with session_scope(read_only=True) as session:
        return statistics(
            session,
            date_range,
            WINDOW,
            generated_at=GENERATED_AT,
            segments_by_template=SEGMENTS,
        )


@pytest.fixture
def figures(database: Engine) -> dict[str, Any]:
    return week_statistics().as_dict()


def test_reach_rate_counts_the_referrals_first_contacted_in_the_range(
    figures: dict[str, Any],
) -> None:
    reach = figures["reach"]
    assert (reach["referrals"], reach["reached"], reach["rate"]) == (4, 3, 0.75)
    assert reach["by_channel"] == [
        {"channel": "call", "referrals": 4, "reached": 2, "rate": 0.5},
        {"channel": "sms", "referrals": 4, "reached": 1, "rate": 0.25},
    ]
    assert reach["by_priority"] == [
        {"priority": "2ww", "referrals": 1, "reached": 1, "rate": 1.0},
        {"priority": "urgent", "referrals": 1, "reached": 1, "rate": 1.0},
        {"priority": "routine", "referrals": 2, "reached": 1, "rate": 0.5},
    ]
    assert reach["by_specialty"] == [
        {"specialty": "Cardiology", "referrals": 2, "reached": 2, "rate": 1.0},
        {"specialty": "Dermatology", "referrals": 2, "reached": 1, "rate": 0.5},
    ]
    assert reach["by_week"] == [{"week": "2026-11-02", "referrals": 4, "reached": 3, "rate": 0.75}]


def test_reach_by_attempt_number_counts_the_attempts_made_until_the_patient_was_reached(
    figures: dict[str, Any],
) -> None:
    assert figures["reach"]["by_attempt"] == [
        {
            "attempt": 1,
            "had_attempt": 4,
            "reached_on_attempt": 0,
            "rate": 0.0,
            "reached_by_attempt": 0,
            "cumulative_rate": 0.0,
        },
        {
            "attempt": 2,
            "had_attempt": 3,
            "reached_on_attempt": 2,
            "rate": 0.6667,
            "reached_by_attempt": 2,
            "cumulative_rate": 0.5,
        },
        {
            "attempt": 3,
            "had_attempt": 1,
            "reached_on_attempt": 1,
            "rate": 1.0,
            "reached_by_attempt": 3,
            "cumulative_rate": 0.75,
        },
    ]


def test_time_to_reach_runs_from_the_first_attempt_to_reaching(figures: dict[str, Any]) -> None:
    # 1,800 s (R2), 79,210 s (R3), 104,420 s (R1); p90 interpolates 80% of the way from the
    # second to the third: 79,210 + 0.8 * 25,210 = 99,378 s.
    time_to_reach = figures["reach"]["time_to_reach"]
    assert time_to_reach["reached"] == 3
    assert time_to_reach["median_hours"] == round(79_210 / 3600, 2) == 22.0
    assert time_to_reach["p90_hours"] == round(99_378 / 3600, 2)
    assert {b["label"]: b["reached"] for b in time_to_reach["buckets"]} == {
        "under 1 hour": 1,
        "1 to 4 hours": 0,
        "4 to 24 hours": 1,
        "1 to 3 days": 1,
        "3 to 7 days": 0,
        "7 to 14 days": 0,
        "14 days or more": 0,
    }


def test_attempts_count_what_went_out_in_the_range_with_the_amd_mix(
    figures: dict[str, Any],
) -> None:
    attempts = figures["attempts"]
    assert {key: attempts[key] for key in ("total", "calls", "sms", "letters")} == {
        "total": 9,
        "calls": 6,
        "sms": 2,
        "letters": 1,
    }
    assert (attempts["voicemails"], attempts["letters_printed"]) == (1, 1)
    assert attempts["amd"] == {"human": 3, "none": 2, "machine_end_beep": 1}
    assert attempts["by_outcome"] == {
        "call": {"human_handoff": 3, "no_answer": 2, "voicemail_left": 1},
        "sms": {"delivered": 1, "replied": 1},
        "letter": {"letter_printed": 1},
    }


def test_handoff_waits_and_the_abandoned_rate(figures: dict[str, Any]) -> None:
    handoffs = figures["handoffs"]
    assert handoffs["bridged"] == 2
    assert handoffs["waits"] == {"handoffs": 3, "median_seconds": 40.0, "p90_seconds": 56.0}
    assert handoffs["abandoned"] == {
        "live_answered": 3,
        "abandoned": 1,
        "rate": 0.3333,
        "cap": 0.03,
        "worst_day": "2026-11-04",
        "worst_day_rate": 1.0,
    }


def test_abandoned_counts_agree_with_the_ofcom_definition_day_by_day(database: Engine) -> None:
    found = week_statistics()
    with session_scope(read_only=True) as session:
        for row in found.days:
            official = day_figures(session, row.period, WINDOW)
            assert (row.work.live_answered, row.work.abandoned) == (
                official.live_answered,
                official.abandoned,
            ), row.period


def test_staff_time_saved_and_cost_follow_the_default_assumptions(
    figures: dict[str, Any],
) -> None:
    # Manual: 6 calls x 2 + 1 voicemail x 1 + 2 texts x 1.5 + 1 letter x 5 = 21 minutes.
    # Staff: 1 printed letter x 1 + 2 handoffs x 0.5 = 2 minutes. Saved: 19 minutes.
    assert figures["staff_time"] == {
        "manual_minutes": 21.0,
        "staff_minutes": 2.0,
        "saved_hours": 0.32,
        "fte_per_day": 0.01,
        "reduction": 0.9048,
        "working_days": 5,
    }
    # 10 call minutes x 0.03, 4 segments x 0.04, 1 letter x 0.85.
    assert figures["cost"] == {
        "currency": "GBP",
        "call_minutes": 10,
        "sms_segments": 4,
        "letters_printed": 1,
        "calls": 0.3,
        "sms": 0.16,
        "letters": 0.85,
        "total": 1.31,
    }
    assert figures["assumptions"]["manual_minutes_per_call"]["value"] == 2.0


def test_trends_split_the_range_by_local_day_and_week(figures: dict[str, Any]) -> None:
    days = figures["trends"]["days"]
    assert [day["period"] for day in days] == [f"2026-11-0{n}" for n in range(2, 9)]
    monday, tuesday, wednesday = days[0], days[1], days[2]
    assert monday == {
        "period": "2026-11-02",
        "calls": 3,
        "sms": 2,
        "letters": 0,
        "referrals_first_contacted": 2,
        "reached": 2,
        "reach_rate": 1.0,
        "live_answered": 0,
        "abandoned": 0,
        "abandoned_rate": None,
        # 3 calls x 2 + 1 voicemail + 2 texts x 1.5 = 10 minutes.
        "staff_hours_saved": 0.17,
        "cost_gbp": 0.19,
    }
    assert (tuesday["calls"], tuesday["referrals_first_contacted"]) == (1, 0)
    assert (wednesday["abandoned"], wednesday["abandoned_rate"]) == (1, 1.0)
    [week] = figures["trends"]["weeks"]
    assert (week["period"], week["calls"], week["reached"], week["cost_gbp"]) == (
        "2026-11-02",
        6,
        3,
        1.31,
    )


def test_an_empty_range_has_zeros_and_no_rates(database: Engine) -> None:
    found = week_statistics(DateRange(date(2026, 12, 1), date(2026, 12, 3))).as_dict()
    assert found["reach"]["rate"] is None
    assert found["reach"]["time_to_reach"]["median_hours"] is None
    assert found["handoffs"]["waits"]["median_seconds"] is None
    assert found["handoffs"]["abandoned"]["rate"] is None
    assert found["attempts"]["total"] == 0
    assert found["staff_time"]["fte_per_day"] == 0.0


def test_a_live_calls_handoff_counts_even_when_stamped_before_its_call(database: Engine) -> None:
    # The range's live calls find their handoffs among those queued since the range began; a
    # handoff whose clock says it joined the queue before the range (and its call) is still
    # found, and a call nobody answered never takes a handoff's outcome.
    with session_scope() as session:
        referral = create_referral(session, priority=Priority.ROUTINE, specialty="ENT")
        answered = create_attempt(
            session,
            referral,
            channel=Channel.CALL,
            step=1,
            state="final",
            outcome="human_handoff",
            answered_by="human",
            keypad_choice="1",
            created_at=at(4, 10),
        )
        unanswered = create_attempt(
            session,
            referral,
            channel=Channel.CALL,
            step=2,
            state="final",
            outcome="no_answer",
            created_at=at(5, 10),
        )
        session.flush()
        session.add_all(
            [
                Handoff(
                    attempt_id=answered.id,
                    referral_id=referral.id,
                    queued_at=at(30, 23, month=10),
                    ended_at=at(4, 10, 1),
                    abandoned=True,
                ),
                Handoff(
                    attempt_id=unanswered.id,
                    referral_id=referral.id,
                    queued_at=at(5, 10, 0, 30),
                    connected_at=at(5, 10, 1),
                ),
            ]
        )
    with session_scope(read_only=True) as session:
        found = statistics(session, WEEK, WINDOW, generated_at=GENERATED_AT)
    assert (found.work.calls, found.work.live_answered) == (2, 1)
    assert (found.work.abandoned, found.work.handoffs_bridged) == (1, 0)
    assert found.abandoned.worst_day == date(2026, 11, 4)
