"""Calling windows: Monday-Friday 08:00-18:00 Europe/London, never on a bank holiday."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rmc_outreach.calendar import CallingWindow

LONDON = ZoneInfo("Europe/London")
WINDOW = CallingWindow()


def london(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=LONDON)


@pytest.mark.parametrize(
    ("moment", "expected"),
    [
        (london(2026, 11, 30, 10, 0), True),  # Monday
        (london(2026, 11, 30, 8, 0), True),  # opens at 08:00 exactly
        (london(2026, 11, 30, 7, 59), False),
        (london(2026, 11, 30, 18, 0), False),  # closed from 18:00
        (london(2026, 11, 28, 11, 0), False),  # Saturday
        (london(2026, 12, 25, 11, 0), False),  # Christmas Day (Friday)
        (london(2026, 12, 28, 11, 0), False),  # Boxing Day substitute (Monday)
        (london(2027, 3, 29, 11, 0), False),  # Easter Monday 2027
        (london(2026, 3, 30, 8, 30), True),  # first Monday of British Summer Time
    ],
)
def test_the_default_window_is_open_only_on_working_days_in_hours(
    moment: datetime, expected: bool
) -> None:
    assert WINDOW.is_open(moment) is expected


def test_friday_evening_waits_until_monday_morning() -> None:
    assert WINDOW.next_open(london(2026, 11, 27, 18, 30)) == london(2026, 11, 30, 8, 0)


def test_christmas_eve_evening_waits_past_the_bank_holidays() -> None:
    assert WINDOW.next_open(london(2026, 12, 24, 18, 0)) == london(2026, 12, 29, 8, 0)


def test_opening_follows_the_clock_change_in_utc() -> None:
    assert WINDOW.opening(date(2026, 3, 27)) == datetime(2026, 3, 27, 8, 0, tzinfo=UTC)
    assert WINDOW.opening(date(2026, 3, 30)) == datetime(2026, 3, 30, 7, 0, tzinfo=UTC)


def test_scotland_has_its_own_bank_holidays() -> None:
    scotland = CallingWindow(holiday_region="scotland")
    assert not scotland.is_working_day(date(2026, 1, 2))
    assert WINDOW.is_working_day(date(2026, 1, 2))


def test_a_closed_day_added_by_the_centre_is_not_a_working_day() -> None:
    closed = CallingWindow(extra_closed_days=frozenset({date(2026, 12, 2)}))
    assert not closed.is_open(london(2026, 12, 2, 10, 0))
    assert closed.next_open(london(2026, 12, 1, 19, 0)) == london(2026, 12, 3, 8, 0)


def test_a_time_of_day_outside_the_window_is_moved_into_it() -> None:
    assert WINDOW.open_at(date(2026, 11, 30), time(6, 0)) == london(2026, 11, 30, 8, 0)
    assert WINDOW.open_at(date(2026, 11, 30), time(15, 30)) == london(2026, 11, 30, 15, 30)
    assert WINDOW.open_at(date(2026, 11, 28), time(15, 30)) == london(2026, 11, 30, 8, 0)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"start": time(18), "end": time(8)}, "must start before it ends"),
        ({"days": frozenset({7})}, "weekday numbers"),
        ({"holiday_region": "wales"}, "holiday region must be one of"),
    ],
)
def test_a_window_that_makes_no_sense_is_refused(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        CallingWindow(**kwargs)  # type: ignore[arg-type]


def test_naive_datetimes_are_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        WINDOW.is_open(datetime(2026, 11, 30, 10, 0))  # noqa: DTZ001


@given(
    st.datetimes(
        # hypothesis takes naive bounds and attaches the zone itself
        min_value=datetime(2026, 1, 1),  # noqa: DTZ001
        max_value=datetime(2028, 12, 31),  # noqa: DTZ001
        timezones=st.just(UTC),
    )
)
def test_next_open_is_the_first_open_moment_at_or_after_any_moment(moment: datetime) -> None:
    opened = WINDOW.next_open(moment)
    assert opened >= moment
    assert WINDOW.is_open(opened)
    assert (opened == moment) is WINDOW.is_open(moment)
    if opened > moment:
        # Nothing was open a minute before the answer (it is the window's start).
        assert not WINDOW.is_open(opened - timedelta(minutes=1))
        assert WINDOW.local(opened).time() == WINDOW.start
