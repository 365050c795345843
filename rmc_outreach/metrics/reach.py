"""Reach rate: of the referrals we started contacting in a range, the share we reached.

- The *cohort* of a range: referrals with made attempts (``activity.attempt_made``, any
  channel) in the range and no attempt at all created before it: the referrals first
  contacted in the range. A referral contacted earlier is not counted again.
- *Reached*: the referral's ``reached_at`` (domain.md: a person answered and chose an option or
  spoke to a handler, replied to a text, or called back) is before the range ends. A voicemail
  left or a text delivered is not reached.
- *Reach rate*: reached / cohort. By day and week the cohort is split by the local day of each
  referral's first attempt; by priority and specialty by the referral's.
- *By channel that reached*: reached referrals by ``reached_by``; the rate is of the cohort.
- *By attempt number*: a referral is reached *on attempt N* when N of its made attempts were
  created by the time it was reached (at least 1). Of the referrals that had an Nth attempt
  before the range ended, the share reached on it; and the cumulative share of the cohort
  reached by attempt N.
- *Time to reach*: from the first attempt to ``reached_at`` (0 if the patient got in touch
  first); median and 90th percentile (``quantiles``) and a histogram.

Every figure comes from the statement that reads the range (``grouped``): the range's made
attempts (``activity.made_attempts``, which the attempt counts share) aggregated per referral,
one index-only probe of ``ix_contact_attempt_referral_created_at`` per referral for its first
attempt, the cohort's referrals by primary key, and each dimension's GROUP BY over that cohort
(with the percentiles on PostgreSQL; SQLite reads them with ``quantiles``).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import CTE, Select, and_, case, func, literal, select
from sqlalchemy.orm import Session, aliased

from rmc_outreach.metrics.grouped import GroupedRow, grouped_columns
from rmc_outreach.metrics.periods import (
    DateRange,
    as_date,
    local_day_of,
    seconds_between,
    week_of,
)
from rmc_outreach.metrics.quantiles import quantiles
from rmc_outreach.models import ContactAttempt, Referral

HOUR = 3600
DAY = 24 * HOUR
# (label, from seconds, up to seconds or None): the time-to-reach histogram's buckets.
TIME_TO_REACH_BUCKETS: tuple[tuple[str, int, int | None], ...] = (
    ("under 1 hour", 0, HOUR),
    ("1 to 4 hours", HOUR, 4 * HOUR),
    ("4 to 24 hours", 4 * HOUR, DAY),
    ("1 to 3 days", DAY, 3 * DAY),
    ("3 to 7 days", 3 * DAY, 7 * DAY),
    ("7 to 14 days", 7 * DAY, 14 * DAY),
    ("14 days or more", 14 * DAY, None),
)


def share(part: int, whole: int) -> float | None:
    """``part / whole`` to 4 places; None when ``whole`` is 0 (no rate)."""
    return round(part / whole, 4) if whole else None


@dataclass(frozen=True)
class ReachRow:
    """Reach of one group: ``referrals`` in the cohort, ``reached`` of them, and the rate."""

    key: str
    referrals: int
    reached: int

    @property
    def rate(self) -> float | None:
        """reached / referrals."""
        return share(self.reached, self.referrals)


@dataclass(frozen=True)
class AttemptNumberRow:
    """Reach by attempt number (see the module docstring)."""

    attempt: int
    had_attempt: int
    reached_on_attempt: int
    reached_by_attempt: int
    cohort: int

    @property
    def rate(self) -> float | None:
        """Of the referrals with an Nth attempt, the share reached on it."""
        return share(self.reached_on_attempt, self.had_attempt)

    @property
    def cumulative_rate(self) -> float | None:
        """The share of the cohort reached by attempt N."""
        return share(self.reached_by_attempt, self.cohort)


@dataclass(frozen=True)
class Bucket:
    """A bar of the time-to-reach histogram."""

    label: str
    from_seconds: int
    to_seconds: int | None
    reached: int


@dataclass(frozen=True)
class TimeToReach:
    """How long reaching took, for the cohort's reached referrals."""

    reached: int
    median_hours: float | None
    p90_hours: float | None
    buckets: tuple[Bucket, ...]


@dataclass(frozen=True)
class Reach:
    """Every reach figure of a range (see the module docstring)."""

    overall: ReachRow
    by_channel: tuple[ReachRow, ...]
    by_attempt: tuple[AttemptNumberRow, ...]
    by_priority: tuple[ReachRow, ...]
    by_specialty: tuple[ReachRow, ...]
    by_day: tuple[ReachRow, ...]
    by_week: tuple[ReachRow, ...]
    time_to_reach: TimeToReach


def reach_parts(
    session: Session, made: CTE, date_range: DateRange, zone: ZoneInfo
) -> tuple[list[Select[Any]], Select[Any]]:
    """The reach GROUP BYs over ``made`` (``activity.made_attempts``) as parts of
    ``grouped.read_grouped``, and the cohort's reached waits in seconds (for the percentiles
    where the database has no ``percentile_cont``: see ``reach_from``)."""
    start, end = date_range.bounds(zone)
    # The range's referrals, from their made attempts in it.
    contacted = (
        select(
            made.c.referral_id.label("referral_id"),
            func.min(made.c.created_at).label("first_at"),
            func.count().label("made"),
        )
        .group_by(made.c.referral_id)
        .cte("contacted")
    )
    # A referral is in the cohort when it has no attempt before the range, so its attempts up
    # to the range's end are exactly its made attempts in ``made``. Its first attempt is one
    # index-only probe of ix_contact_attempt_referral_created_at (no made check, which would
    # read the table each time); a scalar MIN rather than NOT EXISTS, which PostgreSQL may
    # answer by hashing every earlier attempt of the table. Referrals by primary key, for the
    # cohort only.
    earlier = aliased(ContactAttempt)
    first_attempt = (
        select(func.min(earlier.created_at))
        .where(earlier.referral_id == contacted.c.referral_id)
        .scalar_subquery()
    )
    cohort = (
        select(
            contacted.c.referral_id,
            contacted.c.first_at,
            contacted.c.made,
            Referral.priority.label("priority"),
            Referral.specialty.label("specialty"),
            case((Referral.reached_at < end, Referral.reached_by)).label("reached_by"),
            case((Referral.reached_at < end, Referral.reached_at)).label("reached_at"),
        )
        .join(Referral, Referral.id == contacted.c.referral_id)
        .where(first_attempt >= start)
        .cte("cohort")
    )
    c = cohort.c
    # Reached referrals: how many of their made attempts were created by the time.
    made_by_reach = (
        select(c.referral_id, func.count().label("made"))
        .join(
            made,
            and_(made.c.referral_id == c.referral_id, made.c.created_at <= c.reached_at),
        )
        .group_by(c.referral_id)
        .cte("made_by_reach")
    )
    is_reached = c.reached_at.is_not(None)
    reached = func.sum(case((is_reached, 1), else_=0))
    waited = seconds_between(session, c.reached_at, c.first_at)
    waited = case((waited < 0, 0), else_=waited)
    first_day = local_day_of(session, c.first_at, zone, date_range)
    made_before_reach = func.coalesce(made_by_reach.c.made, 0)
    reached_on = case((made_before_reach < 1, 1), else_=made_before_reach)
    bucket = case(
        *((waited < upper, label) for label, _, upper in TIME_TO_REACH_BUCKETS if upper),
        else_=TIME_TO_REACH_BUCKETS[-1][0],
    )

    def dimension(name: str, key: Any, *, only_reached: bool = False) -> Select[Any]:
        query = select(*grouped_columns(name, key, func.count(), reached))
        if only_reached:
            query = query.where(is_reached)
        return query.group_by(key)

    parts = [
        dimension("day", first_day),
        dimension("priority", c.priority),
        dimension("specialty", c.specialty),
        dimension("channel", c.reached_by, only_reached=True),
        dimension("made", c.made),
        select(*grouped_columns("reached_on", reached_on, func.count(), func.count()))
        .select_from(cohort.outerjoin(made_by_reach, made_by_reach.c.referral_id == c.referral_id))
        .where(is_reached)
        .group_by(reached_on),
        dimension("bucket", bucket, only_reached=True),
    ]
    if session.get_bind().dialect.name == "postgresql":
        # The percentiles in the same statement: the cohort is aggregated once.
        parts.append(
            select(
                *grouped_columns(
                    "quantiles",
                    None,
                    func.count(),
                    literal(0),
                    low=func.percentile_cont(0.5).within_group(waited),
                    high=func.percentile_cont(0.9).within_group(waited),
                )
            ).where(is_reached)
        )
    return parts, select(waited).where(is_reached)


def reach_from(
    session: Session,
    groups: Mapping[str, list[GroupedRow]],
    waits: Select[Any],
    date_range: DateRange,
) -> Reach:
    """The reach figures from ``reach_parts``' rows; ``waits`` (its second value) gives the
    percentiles when the rows do not hold them (SQLite)."""
    found = {
        name: {str(row.key): (row.count, row.amount) for row in groups.get(name, [])}
        for name in ("day", "priority", "specialty", "channel", "made", "reached_on", "bucket")
    }
    quantile_rows = groups.get("quantiles")
    if quantile_rows:
        median, p90 = quantile_rows[0].low, quantile_rows[0].high
    else:
        _, (median, p90) = quantiles(session, waits, (0.5, 0.9))
    return _assemble(found, date_range, median, p90)


def _rows(
    found: dict[str, tuple[int, int]], order: list[str] | None = None
) -> tuple[ReachRow, ...]:
    keys = order if order is not None else sorted(found)
    return tuple(ReachRow(key, *found.get(key, (0, 0))) for key in keys)


def _assemble(
    groups: dict[str, dict[str, tuple[int, int]]],
    date_range: DateRange,
    median: float | None,
    p90: float | None,
) -> Reach:
    by_day = _rows(groups.get("day", {}), [day.isoformat() for day in date_range.each_day()])
    cohort = sum(row.referrals for row in by_day)
    total_reached = sum(row.reached for row in by_day)
    weeks: dict[date, tuple[int, int]] = {}
    for row in by_day:
        week = week_of(as_date(row.key))
        referrals, reached_count = weeks.get(week, (0, 0))
        weeks[week] = (referrals + row.referrals, reached_count + row.reached)
    by_channel = tuple(
        ReachRow(channel, cohort, reached_count)
        for channel, (reached_count, _) in sorted(
            groups.get("channel", {}).items(), key=lambda item: -item[1][0]
        )
    )
    by_specialty = tuple(
        sorted(_rows(groups.get("specialty", {})), key=lambda row: (-row.referrals, row.key))
    )
    return Reach(
        overall=ReachRow("all", cohort, total_reached),
        by_channel=by_channel,
        by_attempt=_by_attempt(groups, cohort),
        by_priority=_rows(groups.get("priority", {}), ["2ww", "urgent", "routine"]),
        by_specialty=by_specialty,
        by_day=by_day,
        by_week=tuple(ReachRow(week.isoformat(), *weeks[week]) for week in sorted(weeks)),
        time_to_reach=TimeToReach(
            reached=total_reached,
            median_hours=None if median is None else round(median / HOUR, 2),
            p90_hours=None if p90 is None else round(p90 / HOUR, 2),
            buckets=tuple(
                Bucket(label, lower, upper, groups.get("bucket", {}).get(label, (0, 0))[0])
                for label, lower, upper in TIME_TO_REACH_BUCKETS
            ),
        ),
    )


def _by_attempt(
    groups: dict[str, dict[str, tuple[int, int]]], cohort: int
) -> tuple[AttemptNumberRow, ...]:
    made: Counter[int] = Counter(
        {int(key): referrals for key, (referrals, _) in groups.get("made", {}).items()}
    )
    reached_on: Counter[int] = Counter(
        {int(key): referrals for key, (referrals, _) in groups.get("reached_on", {}).items()}
    )
    most = max([*made, *reached_on], default=0)
    rows = []
    reached_so_far = 0
    for attempt in range(1, most + 1):
        reached_so_far += reached_on[attempt]
        rows.append(
            AttemptNumberRow(
                attempt=attempt,
                had_attempt=sum(n for count, n in made.items() if count >= attempt),
                reached_on_attempt=reached_on[attempt],
                reached_by_attempt=reached_so_far,
                cohort=cohort,
            )
        )
    return tuple(rows)
