"""Date ranges: reading them, and grouping moments by local day on both backends."""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import Engine, func, select

from rmc_outreach.db import session_scope
from rmc_outreach.metrics.periods import (
    DateRange,
    RangeError,
    default_range,
    local_day_of,
    parse_range,
)
from rmc_outreach.metrics.quantiles import quantiles
from rmc_outreach.models import ContactAttempt
from tests.factories import create_attempt, create_referral

LONDON = ZoneInfo("Europe/London")
TODAY = date(2026, 11, 27)


def test_the_default_range_is_the_last_28_days_with_today() -> None:
    assert default_range(TODAY) == DateRange(date(2026, 10, 31), TODAY)
    assert parse_range(None, None, TODAY) == default_range(TODAY)
    assert parse_range("", "2026-11-10", TODAY) == DateRange(date(2026, 10, 14), date(2026, 11, 10))


@pytest.mark.parametrize(
    ("first", "last", "message"),
    [
        ("2026-13-01", None, "'from' must be a date written YYYY-MM-DD"),
        (None, "yesterday", "'to' must be a date written YYYY-MM-DD"),
        ("2026-11-10", "2026-11-01", "ends (2026-11-01) before it starts"),
        ("2020-01-01", "2026-01-01", "at most 731 days"),
    ],
)
def test_a_bad_range_is_refused_with_a_reason(
    first: str | None, last: str | None, message: str
) -> None:
    with pytest.raises(RangeError, match=message.replace("(", r"\(").replace(")", r"\)")):
        parse_range(first, last, TODAY)


def test_moments_are_grouped_by_their_london_day_across_the_clock_change(
    database: Engine,
) -> None:
    # British Summer Time ends at 01:00 UTC on Sunday 25 October 2026.
    moments = [
        datetime(2026, 10, 24, 22, 59, tzinfo=UTC),  # 23:59 BST on the 24th
        datetime(2026, 10, 24, 23, 0, tzinfo=UTC),  # 00:00 BST on the 25th
        datetime(2026, 10, 25, 23, 59, tzinfo=UTC),  # 23:59 GMT on the 25th
        datetime(2026, 10, 26, 0, 0, tzinfo=UTC),  # 00:00 GMT on the 26th
    ]
    with session_scope() as session:
        referral = create_referral(session)
        for step, moment in enumerate(moments, start=1):
            create_attempt(session, referral, step=step, created_at=moment)
    date_range = DateRange(date(2026, 10, 20), date(2026, 10, 30))
    with session_scope(read_only=True) as session:
        day = local_day_of(session, ContactAttempt.created_at, LONDON, date_range)
        rows = session.execute(select(day, func.count()).group_by(day).order_by(day)).all()
    assert [(str(found), count) for found, count in rows] == [
        ("2026-10-24", 1),
        ("2026-10-25", 2),
        ("2026-10-26", 1),
    ]


def test_quantiles_interpolate_between_the_nearest_values(database: Engine) -> None:
    with session_scope() as session:
        referral = create_referral(session)
        for step in range(1, 5):
            create_attempt(session, referral, step=step, duration_seconds=step * 10)
    with session_scope(read_only=True) as session:
        values = select(ContactAttempt.duration_seconds)
        assert quantiles(session, values, (0.5, 0.9)) == (4, (25.0, 37.0))
        assert quantiles(session, values.where(ContactAttempt.step > 9), (0.5,)) == (0, (None,))
