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

One statement reads everything but the two percentiles: the range's attempts (through
``ix_contact_attempt_created_at``), every made attempt of those referrals up to the range's end
(``ix_contact_attempt_referral_created_at``) and the referrals (primary key), aggregated per
referral in a CTE that each dimension's GROUP BY reads.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import date
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Float, String, case, cast, func, literal, select, union_all
from sqlalchemy.orm import Session, aliased

from rmc_outreach.metrics.activity import attempt_made
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


def reach(session: Session, date_range: DateRange, zone: ZoneInfo) -> Reach:
    """The reach figures of ``date_range`` (local days in ``zone``)."""
    start, end = date_range.bounds(zone)
    # A referral is in the cohort when it has made attempts in the range and no attempt before
    # it, so its attempts up to the range's end are exactly those in the range: one pass over
    # the range's attempts, and one index-only probe of ix_contact_attempt_referral_created_at
    # per referral (its first attempt; no made check, which would read the table each time).
    # (A scalar MIN, not NOT EXISTS: PostgreSQL may answer NOT EXISTS by hashing every earlier
    # attempt of the table, where this reads one index entry per referral.)
    earlier = aliased(ContactAttempt)
    first_attempt = (
        select(func.min(earlier.created_at))
        .where(earlier.referral_id == Referral.id)
        .scalar_subquery()
    )
    reached_at = case((Referral.reached_at < end, Referral.reached_at))
    per_referral = (
        select(
            Referral.priority.label("priority"),
            Referral.specialty.label("specialty"),
            case((Referral.reached_at < end, Referral.reached_by)).label("reached_by"),
            reached_at.label("reached_at"),
            func.min(ContactAttempt.created_at).label("first_at"),
            func.count().label("made"),
            func.sum(case((ContactAttempt.created_at <= reached_at, 1), else_=0)).label(
                "made_before_reach"
            ),
        )
        .select_from(ContactAttempt)
        .join(Referral, Referral.id == ContactAttempt.referral_id)
        .where(
            ContactAttempt.created_at >= start,
            ContactAttempt.created_at < end,
            attempt_made(),
        )
        .group_by(Referral.id)
        .having(first_attempt >= start)
        .cte("cohort")
    )
    c = per_referral.c
    is_reached = c.reached_at.is_not(None)
    reached = func.sum(case((is_reached, 1), else_=0))
    waited = seconds_between(session, c.reached_at, c.first_at)
    waited = case((waited < 0, 0), else_=waited)
    first_day = local_day_of(session, c.first_at, zone, date_range)
    reached_on = case((c.made_before_reach < 1, 1), else_=c.made_before_reach)
    bucket = case(
        *((waited < upper, label) for label, _, upper in TIME_TO_REACH_BUCKETS if upper),
        else_=TIME_TO_REACH_BUCKETS[-1][0],
    )

    no_value = cast(None, Float)

    def dimension(name: str, key: Any, *, only_reached: bool = False) -> Any:
        query = select(
            literal(name).label("dimension"),
            cast(key, String).label("key"),
            func.count().label("referrals"),
            reached.label("reached"),
            no_value.label("median"),
            no_value.label("p90"),
        )
        if only_reached:
            query = query.where(is_reached)
        return query.group_by(key)

    parts = [
        dimension("day", first_day),
        dimension("priority", c.priority),
        dimension("specialty", c.specialty),
        dimension("channel", c.reached_by, only_reached=True),
        dimension("made", c.made),
        dimension("reached_on", reached_on, only_reached=True),
        dimension("bucket", bucket, only_reached=True),
    ]
    postgresql = session.get_bind().dialect.name == "postgresql"
    if postgresql:
        # The percentiles in the same statement: the cohort is aggregated once.
        parts.append(
            select(
                literal("quantiles"),
                cast(None, String),
                func.count(),
                literal(0),
                func.percentile_cont(0.5).within_group(waited),
                func.percentile_cont(0.9).within_group(waited),
            ).where(is_reached)
        )
    groups: dict[str, dict[str, tuple[int, int]]] = {}
    median = p90 = None
    for name, key, referrals, reached_count, low, high in session.execute(union_all(*parts)):
        if name == "quantiles":
            median, p90 = low, high
        else:
            groups.setdefault(name, {})[str(key)] = (int(referrals), int(reached_count or 0))
    if not postgresql:
        _, (median, p90) = quantiles(session, select(waited).where(is_reached), (0.5, 0.9))
    return _assemble(groups, date_range, median, p90)


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
