"""Outreach activity figures: today's local day, the engine's own outcomes, the clock and window."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import Engine

from rmc_outreach import attempts
from rmc_outreach.activity import (
    activity_snapshot,
    attempts_today,
    callback_reason_label,
    local_day,
    next_print_cut,
    responses_today,
    service_clock,
)
from rmc_outreach.calendar import CallingWindow
from rmc_outreach.clock import frozen_at
from rmc_outreach.db import session_scope
from rmc_outreach.events import EventKind, apply_event, record_event, settle_call
from rmc_outreach.inbound_sms import receive
from rmc_outreach.messages import default_public_context
from rmc_outreach.models import AttemptState, Channel, ReferralStatus
from rmc_outreach.progress import reach
from tests.factories import create_attempt, create_patient, create_referral

LONDON = ZoneInfo("Europe/London")
# A Tuesday in British Summer Time: local midnight is 23:00 UTC the evening before.
SUMMER_AFTERNOON = datetime(2026, 6, 16, 16, 30, tzinfo=LONDON)
LOCAL_MIDNIGHT = datetime(2026, 6, 16, 0, 0, tzinfo=LONDON)
WINDOW = CallingWindow()


def london(year: int, month: int, day: int, hour: int, minute: int) -> datetime:
    """A wall-clock time in London."""
    return datetime(year, month, day, hour, minute, tzinfo=LONDON)


def test_the_local_day_runs_from_local_midnight_and_is_shorter_when_clocks_go_forward() -> None:
    summer = local_day(SUMMER_AFTERNOON, "Europe/London")
    spring_forward = local_day(datetime(2026, 3, 29, 12, 0, tzinfo=UTC), "Europe/London")

    assert summer.day == date(2026, 6, 16)
    assert summer.start == datetime(2026, 6, 15, 23, 0, tzinfo=UTC)
    assert summer.end == datetime(2026, 6, 16, 23, 0, tzinfo=UTC)
    assert spring_forward.end - spring_forward.start == timedelta(hours=23)
    # Just after local midnight in London it is still the previous day in New York.
    just_after = datetime(2026, 6, 15, 23, 30, tzinfo=UTC)
    assert local_day(just_after, "Europe/London").day == date(2026, 6, 16)
    assert local_day(just_after, "America/New_York").day == date(2026, 6, 15)


def test_attempts_count_as_today_from_local_midnight_not_utc_midnight(database: Engine) -> None:
    # (minutes from local midnight, counted today?) -- UTC midnight is an hour later.
    moments = ((-61, False), (-1, False), (0, True), (30, True), (61, True))
    with session_scope() as session:
        for minutes, _today in moments:
            create_attempt(
                session,
                create_referral(session, status=ReferralStatus.IN_OUTREACH),
                state=AttemptState.FINAL,
                outcome="voicemail_left",
                provider_sid=f"CA{minutes + 100:032d}",
                created_at=LOCAL_MIDNIGHT + timedelta(minutes=minutes),
            )

    with frozen_at(SUMMER_AFTERNOON), session_scope(read_only=True) as session:
        calls, _sms, _letters = attempts_today(
            session, local_day(SUMMER_AFTERNOON, "Europe/London")
        )

    assert calls.voicemail_left == sum(1 for _minutes, today in moments if today)
    assert calls.placed == calls.voicemail_left


# (facts the carrier reported, the figure the call must add to)
COMPLETED = {"provider_status": "completed"}
ENGINE_CALLS: tuple[tuple[dict[str, Any], str], ...] = (
    (COMPLETED | {"keypad_choice": "1", "answered_by": "human"}, "handed_to_booking_team"),
    (COMPLETED | {"keypad_choice": "2", "answered_by": "human"}, "asked_for_text"),
    (COMPLETED | {"keypad_choice": "3", "answered_by": "unknown"}, "no_longer_needed"),
    (COMPLETED | {"answered_by": "human"}, "person_no_choice"),
    (COMPLETED | {"answered_by": "machine_end_beep"}, "machine_no_message"),
    (
        COMPLETED | {"answered_by": "machine_end_beep", "voicemail_at": SUMMER_AFTERNOON},
        "voicemail_left",
    ),
    ({"provider_status": "no-answer"}, "no_answer"),
    (COMPLETED | {"answered_by": "fax"}, "no_answer"),
    ({"provider_status": "busy"}, "busy"),
    ({"provider_status": "failed"}, "failed"),
)


@pytest.mark.parametrize(("facts", "figure"), ENGINE_CALLS)
def test_a_call_settled_by_the_engine_is_counted_under_its_outcome(
    database: Engine, facts: dict[str, Any], figure: str
) -> None:
    with frozen_at(SUMMER_AFTERNOON), session_scope() as session:
        referral = create_referral(session, status=ReferralStatus.IN_OUTREACH, journey_step=1)
        attempt = create_attempt(
            session, referral, state=AttemptState.SENT, provider_sid="CA" + "1" * 32
        )
        attempts.annotate(session, attempt.id, **facts)
        settle_call(session, attempt.id)

    with session_scope(read_only=True) as session:
        calls, _sms, _letters = attempts_today(
            session, local_day(SUMMER_AFTERNOON, "Europe/London")
        )

    counted = {name: value for name, value in vars(calls).items() if value}
    person = figure in (
        "handed_to_booking_team",
        "asked_for_text",
        "no_longer_needed",
        "person_no_choice",
    )
    expected = {"placed": 1, figure: 1} | ({"answered_by_person": 1} if person else {})
    assert counted == expected


def test_a_stop_and_a_reply_through_the_engine_count_as_an_opt_out_a_reply_and_a_reach(
    database: Engine,
) -> None:
    context = default_public_context("01632 960000")
    with frozen_at(SUMMER_AFTERNOON):
        with session_scope() as session:
            stopper = create_patient(session, mobile_phone="+447700900101")
            replier = create_patient(session, mobile_phone="+447700900102")
            create_referral(session, patient=stopper, status=ReferralStatus.IN_OUTREACH)
            create_referral(session, patient=replier, status=ReferralStatus.IN_OUTREACH)
            stop = {"MessageSid": "SM" + "1" * 32, "From": "+447700900101", "Body": "STOP"}
            text = {"MessageSid": "SM" + "2" * 32, "From": "+447700900102", "Body": "Ring me"}
            receive(session, stop, context)
            reply = receive(session, text, context)
        assert reply.event_id is not None
        apply_event(reply.event_id)
        day = local_day(SUMMER_AFTERNOON, "Europe/London")
        with session_scope(read_only=True) as session:
            today = responses_today(session, day)
            waiting = activity_snapshot(session, day).callbacks

    assert (today.sms_opt_outs, today.replies) == (1, 1)
    assert (today.reached, today.reached_by_sms, today.reached_by_call) == (1, 1, 0)
    assert (waiting.total, dict(waiting.by_reason)) == (1, {"sms_reply": 1})
    assert waiting.oldest_requested_at == SUMMER_AFTERNOON


def test_a_patient_who_presses_3_counts_as_reached_and_declined_today(database: Engine) -> None:
    with frozen_at(SUMMER_AFTERNOON), session_scope() as session:
        referral = create_referral(session, status=ReferralStatus.IN_OUTREACH)
        reach(session, referral.id, Channel.CALL, status=ReferralStatus.DECLINED)
        yesterday = create_referral(session, status=ReferralStatus.IN_OUTREACH)
        reach(session, yesterday.id, Channel.CALL, at=SUMMER_AFTERNOON - timedelta(days=1))

    with session_scope(read_only=True) as session:
        today = responses_today(session, local_day(SUMMER_AFTERNOON, "Europe/London"))

    assert (today.reached, today.reached_by_call, today.declined) == (1, 1, 1)


def test_a_stored_event_does_not_count_as_anything_until_applied(database: Engine) -> None:
    with frozen_at(SUMMER_AFTERNOON), session_scope() as session:
        record_event(session, event_key="sms-in:x", kind=EventKind.SMS_INBOUND, payload={})
        today = responses_today(session, local_day(SUMMER_AFTERNOON, "Europe/London"))

    assert (today.replies, today.reached, today.sms_opt_outs, today.exhausted) == (0, 0, 0, 0)


@pytest.mark.parametrize(
    ("moment", "is_open", "changes_at", "because"),
    [
        (london(2026, 6, 16, 16, 30), True, london(2026, 6, 16, 18, 0), None),
        (london(2026, 6, 16, 7, 59), False, london(2026, 6, 16, 8, 0), "outside calling hours"),
        (london(2026, 6, 16, 18, 0), False, london(2026, 6, 17, 8, 0), "outside calling hours"),
        (london(2026, 6, 20, 11, 0), False, london(2026, 6, 22, 8, 0), "not a calling day"),
        (london(2026, 12, 25, 11, 0), False, london(2026, 12, 29, 8, 0), "bank holiday"),
    ],
)
def test_the_calling_window_says_whether_it_is_open_and_until_when(
    moment: datetime, is_open: bool, changes_at: datetime, because: str | None
) -> None:
    state = service_clock(WINDOW, moment, cut_time=time(16, 0), last_batch_day=None)

    assert state.window_open is is_open
    assert state.window_changes_at == changes_at
    assert state.window_changes_at.tzinfo is not None
    assert state.closed_because == because
    assert state.simulated is False
    assert state.now == moment


@pytest.mark.parametrize(
    ("moment", "last_batch_day", "expected"),
    [
        # Before today's cut: today at the cut time.
        (london(2026, 6, 16, 10, 0), date(2026, 6, 15), london(2026, 6, 16, 16, 0)),
        # After the cut time, today not cut yet (no letters were waiting then): now.
        (london(2026, 6, 16, 16, 30), date(2026, 6, 15), london(2026, 6, 16, 16, 30)),
        # Today already cut: the next working day.
        (london(2026, 6, 16, 16, 30), date(2026, 6, 16), london(2026, 6, 17, 16, 0)),
        # A Friday's cut done: Monday.
        (london(2026, 6, 19, 17, 0), date(2026, 6, 19), london(2026, 6, 22, 16, 0)),
        # A Saturday, never cut before: Monday.
        (london(2026, 6, 20, 9, 0), None, london(2026, 6, 22, 16, 0)),
    ],
)
def test_the_next_print_cut_is_today_until_it_is_done_then_the_next_working_day(
    moment: datetime, last_batch_day: date | None, expected: datetime
) -> None:
    assert next_print_cut(WINDOW, time(16, 0), moment, last_batch_day) == expected


def test_callback_reasons_read_as_words_even_when_new() -> None:
    assert callback_reason_label("no_handler") == "Pressed 1, but no one was free to answer"
    assert callback_reason_label("handler_asked_to_retry") == "Handler asked to retry"
