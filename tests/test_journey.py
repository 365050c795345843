"""The journey policy: calls, SMS and a letter last, skipping what a patient cannot get."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from hypothesis import given
from hypothesis import strategies as st

from rmc_outreach.calendar import CallingWindow
from rmc_outreach.journey import (
    ContactProfile,
    EndReason,
    JourneyEnd,
    JourneyPolicy,
    NextContact,
    next_contact,
)
from rmc_outreach.models.states import Channel, Priority

LONDON = ZoneInfo("Europe/London")
WINDOW = CallingWindow()
POLICY = JourneyPolicy()
EVERYTHING = ContactProfile(has_mobile=True, has_landline=True, has_postal_address=True)


def london(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 11, day, hour, minute, tzinfo=LONDON)


def walk(priority: Priority, profile: ContactProfile, start: datetime) -> list[NextContact]:
    """Run the whole journey, each step ending two minutes after it was due, never reaching."""
    plan: list[NextContact] = []
    steps_done, last, now = 0, None, start
    while True:
        decision = next_contact(
            POLICY,
            priority,
            profile,
            steps_done=steps_done,
            last_contact_at=last,
            now=now,
            window=WINDOW,
        )
        if isinstance(decision, JourneyEnd):
            assert decision.reason is EndReason.EXHAUSTED
            return plan
        plan.append(decision)
        steps_done, last = decision.step, decision.due_at + timedelta(minutes=2)
        now = last


def test_a_routine_journey_calls_texts_calls_again_at_other_times_and_ends_with_a_letter() -> None:
    plan = walk(Priority.ROUTINE, EVERYTHING, london(30, 7, 0))  # Monday before opening
    assert [contact.channel for contact in plan] == [
        Channel.CALL,
        Channel.SMS,
        Channel.CALL,
        Channel.CALL,
        Channel.SMS,
        Channel.LETTER,
    ]
    due = [contact.due_at.astimezone(LONDON) for contact in plan]
    assert due[0] == london(30, 8, 0)
    assert due[1] == london(30, 8, 7)  # five minutes after the unanswered call ended
    assert due[2] == datetime(2026, 12, 1, 14, 30, tzinfo=LONDON)  # next working day, afternoon
    assert due[3] == datetime(2026, 12, 3, 16, 45, tzinfo=LONDON)  # two days on, late
    assert due[5].date() == date(2026, 12, 4)  # letter the next working day
    assert len({moment.time() for moment in (due[0], due[2], due[3])}) == 3


def test_urgent_referrals_move_faster_than_routine_ones() -> None:
    start = london(30, 9, 0)
    urgent = walk(Priority.URGENT, EVERYTHING, start)
    routine = walk(Priority.ROUTINE, EVERYTHING, start)
    assert urgent[2].due_at - start < routine[2].due_at - start
    assert urgent[2].due_at.astimezone(LONDON).date() == start.date()  # a second call same day
    assert walk(Priority.TWO_WEEK_WAIT, EVERYTHING, start) == urgent


def test_a_patient_with_only_a_landline_gets_calls_and_a_letter_but_never_an_sms() -> None:
    profile = ContactProfile(has_mobile=False, has_landline=True, has_postal_address=True)
    channels = [contact.channel for contact in walk(Priority.ROUTINE, profile, london(30, 9))]
    assert Channel.SMS not in channels
    assert channels == [Channel.CALL, Channel.CALL, Channel.CALL, Channel.LETTER]


def test_a_landline_only_patient_with_both_phones_is_called_and_written_to_never_texted() -> None:
    profile = ContactProfile(True, True, True, landline_only=True)
    for priority in Priority:
        plan = walk(priority, profile, london(30, 9))
        channels = [contact.channel for contact in plan]
        assert Channel.SMS not in channels
        assert channels.count(Channel.CALL) >= 3
        assert channels[-1] is Channel.LETTER
    assert not profile.allows(Channel.SMS)
    assert profile.allows(Channel.CALL)


def test_a_landline_only_patient_without_a_landline_gets_only_the_letter() -> None:
    for flags in ({}, {"no_sms": True}):
        profile = ContactProfile(
            has_mobile=True,
            has_landline=False,
            has_postal_address=True,
            landline_only=True,
            **flags,
        )
        plan = walk(Priority.TWO_WEEK_WAIT, profile, london(30, 9))
        assert [contact.channel for contact in plan] == [Channel.LETTER]
        assert plan[0].step == len(POLICY.cadence(Priority.TWO_WEEK_WAIT))  # calls, SMS skipped


def test_a_landline_only_patient_without_a_landline_or_an_address_is_handed_back() -> None:
    profile = ContactProfile(
        has_mobile=True, has_landline=False, has_postal_address=False, landline_only=True
    )
    decision = next_contact(
        POLICY,
        Priority.ROUTINE,
        profile,
        steps_done=0,
        last_contact_at=None,
        now=london(30, 9),
        window=WINDOW,
    )
    assert decision == JourneyEnd(EndReason.NO_USABLE_CHANNEL)


def test_letter_only_wins_over_landline_only() -> None:
    profile = ContactProfile(True, True, True, letter_only=True, landline_only=True)
    assert [c.channel for c in walk(Priority.ROUTINE, profile, london(30, 9))] == [Channel.LETTER]


def test_sms_flags_and_opt_outs_skip_every_sms_step() -> None:
    for profile in (
        ContactProfile(True, True, True, no_sms=True),
        ContactProfile(True, True, True, sms_opted_out=True),
    ):
        channels = [contact.channel for contact in walk(Priority.URGENT, profile, london(30, 9))]
        assert Channel.SMS not in channels
        assert Channel.CALL in channels


def test_a_letter_only_patient_gets_only_the_letter() -> None:
    profile = ContactProfile(True, True, True, letter_only=True)
    plan = walk(Priority.ROUTINE, profile, london(30, 9))
    assert [contact.channel for contact in plan] == [Channel.LETTER]


def test_without_a_postal_address_the_journey_ends_after_the_last_call_or_sms() -> None:
    profile = ContactProfile(has_mobile=True, has_landline=False, has_postal_address=False)
    plan = walk(Priority.ROUTINE, profile, london(30, 9))
    assert plan[-1].channel is Channel.SMS
    assert Channel.LETTER not in [contact.channel for contact in plan]


def test_a_patient_we_may_not_contact_at_all_is_handed_back() -> None:
    nothing = ContactProfile(has_mobile=False, has_landline=False, has_postal_address=False)
    decision = next_contact(
        POLICY,
        Priority.ROUTINE,
        nothing,
        steps_done=0,
        last_contact_at=None,
        now=london(30, 9),
        window=WINDOW,
    )
    assert decision == JourneyEnd(EndReason.NO_USABLE_CHANNEL)
    opted_out = ContactProfile(True, True, True, contact_opted_out=True)
    decision = next_contact(
        POLICY,
        Priority.ROUTINE,
        opted_out,
        steps_done=2,
        last_contact_at=None,
        now=london(30, 9),
        window=WINDOW,
    )
    assert decision == JourneyEnd(EndReason.OPTED_OUT)


@given(
    priority=st.sampled_from(list(Priority)),
    profile=st.builds(
        ContactProfile,
        has_mobile=st.booleans(),
        has_landline=st.booleans(),
        has_postal_address=st.booleans(),
        no_sms=st.booleans(),
        letter_only=st.booleans(),
        landline_only=st.booleans(),
        sms_opted_out=st.booleans(),
    ),
    steps_done=st.integers(min_value=0, max_value=8),
    gap_minutes=st.integers(min_value=0, max_value=60 * 24 * 5),
    now=st.datetimes(
        min_value=datetime(2026, 1, 1),  # noqa: DTZ001
        max_value=datetime(2027, 12, 31),  # noqa: DTZ001
        timezones=st.just(UTC),
    ),
)
def test_every_contact_is_due_inside_the_window_and_never_in_the_past(
    priority: Priority,
    profile: ContactProfile,
    steps_done: int,
    gap_minutes: int,
    now: datetime,
) -> None:
    last = None if steps_done == 0 else now - timedelta(minutes=gap_minutes)
    decision = next_contact(
        POLICY,
        priority,
        profile,
        steps_done=steps_done,
        last_contact_at=last,
        now=now,
        window=WINDOW,
    )
    if isinstance(decision, JourneyEnd):
        return
    assert decision.step > steps_done
    assert decision.due_at >= now
    assert WINDOW.is_open(decision.due_at)
    assert profile.allows(decision.channel)
    if profile.landline_only:
        assert decision.channel is not Channel.SMS
        assert decision.channel is not Channel.CALL or profile.has_landline
