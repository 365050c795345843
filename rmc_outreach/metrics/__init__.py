"""The managers' statistics over a date range: one definition per figure, plain dataclasses out.

Every figure the statistics page, its CSV and ``python -m rmc_outreach stats --json`` show comes
from ``statistics_for`` (or ``statistics``), read in the caller's transaction:

- reach rate overall, by channel that reached, attempt number, priority, specialty, day and
  week; time to reach: ``reach``;
- attempts, voicemails, letters, the answering-machine detection mix: ``activity``;
- handoff waits and the abandoned-call rate (``rmc_outreach.abandonment``'s definition):
  ``handoffs``;
- staff time saved and estimated provider cost, with their ``assumptions``: ``costs``.

A range is whole local days of the calling window's time zone (``periods``); every figure is
counted on the local day its event happened. The reads are two statements bounded by the range
through indexes, whatever the size of the tables: every GROUP BY of ``activity`` and ``reach``
over one pass of the range's attempts (``grouped``), and the handoff waits. Nothing loops over
attempts.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from functools import lru_cache
from typing import Any

from sqlalchemy import text
from sqlalchemy.orm import Session

from rmc_outreach.calendar import CallingWindow
from rmc_outreach.engine_config import OFCOM_ABANDONED_RATE_CAP, EngineConfig
from rmc_outreach.messages import PublicContext, render_sms, sms_segments, template_names
from rmc_outreach.metrics.activity import (
    WorkCounts,
    amd_mix,
    attempt_groups,
    attempt_parts,
    made_attempts,
    outcomes_by_channel,
    work_by_day,
)
from rmc_outreach.metrics.assumptions import Assumptions, load_assumptions
from rmc_outreach.metrics.costs import ProviderCost, StaffTime, provider_cost, staff_time
from rmc_outreach.metrics.grouped import read_grouped
from rmc_outreach.metrics.handoffs import Abandoned, Waits, abandoned, waits
from rmc_outreach.metrics.periods import (
    DateRange,
    RangeError,
    default_range,
    parse_range,
    week_of,
    working_days,
)
from rmc_outreach.metrics.reach import Reach, ReachRow, reach_from, reach_parts, share
from rmc_outreach.models import Channel

__all__ = [
    "DateRange",
    "RangeError",
    "Statistics",
    "default_range",
    "parse_range",
    "statistics",
    "statistics_for",
]


@dataclass(frozen=True)
class TrendRow:
    """One day or week: the work done, its cohort's reach, staff time saved and cost."""

    period: date
    work: WorkCounts
    reach: ReachRow
    saved_hours: float
    cost: float

    @property
    def abandoned_rate(self) -> float | None:
        """abandoned / live-answered calls of the period."""
        return share(self.work.abandoned, self.work.live_answered)


@dataclass(frozen=True)
class Statistics:
    """Every figure of the managers' statistics for one range."""

    date_range: DateRange
    timezone: str
    generated_at: datetime
    working_days: int
    reach: Reach
    work: WorkCounts
    outcomes: Mapping[Channel, Mapping[str, int]]
    amd: Mapping[str, int]
    waits: Waits
    abandoned: Abandoned
    staff_time: StaffTime
    cost: ProviderCost
    assumptions: Assumptions
    days: tuple[TrendRow, ...]
    weeks: tuple[TrendRow, ...]

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready: counts, rates, hours and pounds; nothing about any patient."""
        from rmc_outreach.metrics.export import statistics_dict

        return statistics_dict(self)


def statistics(
    session: Session,
    date_range: DateRange,
    window: CallingWindow,
    *,
    generated_at: datetime,
    assumptions: Assumptions | None = None,
    segments_by_template: Mapping[str, int] | None = None,
    abandoned_rate_cap: float = OFCOM_ABANDONED_RATE_CAP,
) -> Statistics:
    """Every figure for ``date_range``; ``assumptions`` default to those stored (an admin's,
    else the defaults); ``segments_by_template``: SMS segments per template (1 if unknown)."""
    zone = window.zone
    _tune_for_aggregates(session)
    assumptions = assumptions or load_assumptions(session)
    made = made_attempts(session, date_range, zone)
    reach_rows, reached_waits = reach_parts(session, made, date_range, zone)
    rows = read_grouped(session, [*attempt_parts(made), *reach_rows])
    groups = attempt_groups(rows.get("attempts", []))
    by_day = work_by_day(groups, segments_by_template or {})
    work = sum(by_day.values(), WorkCounts())
    found_reach = reach_from(session, rows, reached_waits, date_range)
    days_at_work = working_days(date_range, window)
    days = tuple(
        _trend(day, by_day.get(day, WorkCounts()), reach_row, assumptions)
        for day, reach_row in zip(date_range.each_day(), found_reach.by_day, strict=True)
    )
    return Statistics(
        date_range=date_range,
        timezone=window.timezone,
        generated_at=generated_at,
        working_days=days_at_work,
        reach=found_reach,
        work=work,
        outcomes=outcomes_by_channel(groups),
        amd=amd_mix(groups),
        waits=waits(session, date_range, zone),
        abandoned=abandoned(by_day, abandoned_rate_cap),
        staff_time=staff_time(work, assumptions, days_at_work),
        cost=provider_cost(work, assumptions),
        assumptions=assumptions,
        days=days,
        weeks=_weeks(days, assumptions),
    )


def statistics_for(
    session: Session, date_range: DateRange, config: EngineConfig, *, generated_at: datetime
) -> Statistics:
    """``statistics`` with the engine's calling window, abandoned-call cap and SMS wording: what
    the page, the CSV and ``stats --json`` all show."""
    return statistics(
        session,
        date_range,
        config.window,
        generated_at=generated_at,
        segments_by_template=segments_by_template(config.public_context),
        abandoned_rate_cap=config.abandoned_rate_cap,
    )


def _tune_for_aggregates(session: Session) -> None:
    """PostgreSQL, for this transaction only: room to hash the range's groups in memory (the
    default 4 MB spills the sorts to disk); no JIT compilation, which costs more than these
    sub-second aggregates gain from it; and a plan made for this range every time. The driver
    prepares a statement it has run a few times, and PostgreSQL may then reuse one generic
    plan made without the range's bounds, which cannot know that the range is a small slice of
    the tables (it took minutes where the range's plan takes a fraction of a second)."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SET LOCAL work_mem = '64MB'"))
        session.execute(text("SET LOCAL jit = off"))
        session.execute(text("SET LOCAL plan_cache_mode = force_custom_plan"))


@lru_cache(maxsize=8)
def _segments(context: PublicContext) -> tuple[tuple[str, int], ...]:
    return tuple(
        (name, sms_segments(render_sms(name, context)).segments) for name in template_names("sms")
    )


def segments_by_template(context: PublicContext) -> dict[str, int]:
    """How many segments each SMS template takes as the centre sends it."""
    return dict(_segments(context))


def _trend(
    period: date,
    work: WorkCounts,
    reach_row: ReachRow,
    assumptions: Assumptions,
) -> TrendRow:
    return TrendRow(
        period=period,
        work=work,
        reach=reach_row,
        saved_hours=staff_time(work, assumptions, 0).saved_hours,
        cost=provider_cost(work, assumptions).total,
    )


def _weeks(days: tuple[TrendRow, ...], assumptions: Assumptions) -> tuple[TrendRow, ...]:
    weeks: dict[date, list[TrendRow]] = {}
    for row in days:
        weeks.setdefault(week_of(row.period), []).append(row)
    found = []
    for week, rows in sorted(weeks.items()):
        work = sum((row.work for row in rows), WorkCounts())
        cohort = ReachRow(
            week.isoformat(),
            sum(row.reach.referrals for row in rows),
            sum(row.reach.reached for row in rows),
        )
        found.append(
            TrendRow(
                period=week,
                work=work,
                reach=cohort,
                saved_hours=staff_time(work, assumptions, 0).saved_hours,
                cost=provider_cost(work, assumptions).total,
            )
        )
    return tuple(found)
