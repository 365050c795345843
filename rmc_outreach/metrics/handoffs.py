"""Patients handed to the booking team: how long they waited, and abandoned calls.

- *Wait*: an outbound call's patient who asked for the booking team waited from joining the
  queue (``handoff.queued_at``) until a handler was bridged to them (``connected_at``), or until
  they left the queue without one (timed out, hung up, or chose a callback: ``ended_at``). Every
  finished wait counts; handoffs still waiting do not. Counted on the local day the patient
  joined the queue; median and 90th percentile as ``quantiles`` defines them (the handoff
  benchmark's definition).
- *Abandoned-call rate*: ``rmc_outreach.abandonment``'s definition (abandoned / live-answered
  outbound calls, by the local day the call was created), over the whole range and for the
  worst day; the counts come from ``activity`` (the same conditions, summed per day in one
  GROUP BY instead of two queries a day).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from rmc_outreach.metrics.activity import WorkCounts
from rmc_outreach.metrics.periods import DateRange, seconds_between
from rmc_outreach.metrics.quantiles import quantiles
from rmc_outreach.metrics.reach import share
from rmc_outreach.models import Handoff


@dataclass(frozen=True)
class Waits:
    """Finished waits for a handler of the range's outbound handoffs, in seconds."""

    handoffs: int
    median_seconds: float | None
    p90_seconds: float | None


@dataclass(frozen=True)
class Abandoned:
    """Abandoned outbound calls against live-answered ones, and the worst day."""

    live_answered: int
    abandoned: int
    cap: float
    worst_day: date | None
    worst_day_rate: float | None

    @property
    def rate(self) -> float | None:
        """abandoned / live_answered over the range."""
        return share(self.abandoned, self.live_answered)


def waits(session: Session, date_range: DateRange, zone: ZoneInfo) -> Waits:
    """The waits of outbound handoffs queued in the range (through ``ix_handoff_queued_at``)."""
    start, end = date_range.bounds(zone)
    until = func.coalesce(Handoff.connected_at, Handoff.ended_at)
    finished = select(seconds_between(session, until, Handoff.queued_at).label("wait")).where(
        Handoff.queued_at >= start,
        Handoff.queued_at < end,
        Handoff.attempt_id.is_not(None),
        until.is_not(None),
    )
    count, (median, p90) = quantiles(session, finished, (0.5, 0.9))
    return Waits(
        handoffs=int(count),
        median_seconds=None if median is None else round(median, 1),
        p90_seconds=None if p90 is None else round(p90, 1),
    )


def abandoned(days: Mapping[date, WorkCounts], cap: float) -> Abandoned:
    """The range's abandoned-call figures from each day's counts (``activity.work_by_day``)."""
    live = sum(counts.live_answered for counts in days.values())
    lost = sum(counts.abandoned for counts in days.values())
    worst: tuple[float, date] | None = None
    for day, counts in sorted(days.items()):
        if counts.live_answered and (
            worst is None or counts.abandoned / counts.live_answered > worst[0]
        ):
            worst = (counts.abandoned / counts.live_answered, day)
    return Abandoned(
        live_answered=live,
        abandoned=lost,
        cap=cap,
        worst_day=None if worst is None else worst[1],
        worst_day_rate=None if worst is None else round(worst[0], 4),
    )
