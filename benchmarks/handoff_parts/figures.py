"""The handoff benchmark's figures, computed from what the database recorded (simulated time).

- ``abandoned_rate``: abandoned / live-answered outbound calls over the run, with both counts
  from ``rmc_outreach.abandonment`` (the one definition the live view and pacing use); also the
  worst single day (``abandoned_rate_worst_day``), the figure Ofcom's cap is about, and each
  local day's counts (``days``: date, live-answered, abandoned, rate), days without a call left out.
- ``wait_median_s``, ``wait_p90_s``: how long patients who asked for the booking team waited,
  from joining the queue until a handler was bridged to them, or until they left the queue
  without one (timed out, hung up, or asked for a callback instead): every wait counts.
- ``occupancy``: the handlers' busy share while signed in and while there was work to dial
  (calls due that the engine had not started yet: ``spans``): time ringing for a patient, on a
  call or wrapping up, divided by all signed-in time (available and away too) in those spans.
  The simulated handlers stay signed in for the whole run, also on the journeys' last days when
  only a few calls are due; idle time then measures the staffing, not pacing, and
  ``occupancy_calling_hours`` (the same share over every calling hour of the run) shows it.
- ``reach_rate``: referrals reached (or booked, or declined: the patient was in contact) of all
  referrals in the run.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from rmc_outreach import abandonment
from rmc_outreach.calendar import CallingWindow
from rmc_outreach.models import (
    HandlerSession,
    HandlerState,
    Handoff,
    Referral,
    ReferralStatus,
)

Span = tuple[datetime, datetime]
BUSY_STATES = frozenset({HandlerState.RINGING, HandlerState.ON_CALL, HandlerState.WRAP_UP})
CONTACTED = (ReferralStatus.REACHED, ReferralStatus.BOOKED, ReferralStatus.DECLINED)


@dataclass(frozen=True)
class HandoffFigures:
    """What the benchmark reports about handing patients to handlers."""

    abandoned_rate: float
    abandoned_rate_worst_day: float
    days: list[dict[str, object]]
    live_answered: int
    abandoned: int
    handoffs: int
    bridged: int
    wait_median_s: float | None
    wait_p90_s: float | None
    occupancy: float | None
    busy_hours: float
    signed_in_hours: float
    occupancy_calling_hours: float | None
    reach_rate: float
    referrals: int


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def percentile(values: list[float], fraction: float) -> float | None:
    """The ``fraction`` quantile (inclusive method; the value itself for one value)."""
    if not values:
        return None
    if len(values) == 1:
        return values[0]
    cut = statistics.quantiles(values, n=100, method="inclusive")
    return cut[round(fraction * 100) - 1]


def waits_s(session: Session) -> list[float]:
    """Each outbound patient's wait for a handler, in seconds (see the module docstring)."""
    rows = session.execute(
        select(Handoff.queued_at, Handoff.connected_at, Handoff.ended_at).where(
            Handoff.attempt_id.is_not(None)
        )
    ).all()
    waits = []
    for queued_at, connected_at, ended_at in rows:
        until = connected_at or ended_at
        if until is not None:
            waits.append((_aware(until) - _aware(queued_at)).total_seconds())
    return waits


def _open_spans(
    window: CallingWindow, start: datetime, end: datetime
) -> list[tuple[datetime, datetime]]:
    spans = []
    day: date = window.local(start).date()
    while window.opening(day) < end:
        if window.is_working_day(day):
            spans.append((max(start, window.opening(day)), min(end, window.closing(day))))
        day += timedelta(days=1)
    return [(a, b) for a, b in spans if b > a]


def _overlap_s(spans: list[Span], start: datetime, end: datetime) -> float:
    return sum(max(0.0, (min(end, b) - max(start, a)).total_seconds()) for a, b in spans)


def occupancy_hours(session: Session, spans: list[Span], until: datetime) -> tuple[float, float]:
    """(busy hours, signed-in hours) of every handler, cut to ``spans``; a spell still open
    counts up to ``until``."""
    busy = signed_in = 0.0
    spells = session.execute(
        select(HandlerSession.state, HandlerSession.started_at, HandlerSession.ended_at).where(
            HandlerSession.state != HandlerState.OFFLINE
        )
    ).all()
    for state, started_at, ended_at in spells:
        seconds = _overlap_s(spans, _aware(started_at), _aware(ended_at or until))
        signed_in += seconds
        if state in BUSY_STATES:
            busy += seconds
    return busy / 3600, signed_in / 3600


def run_abandonment(
    session: Session, window: CallingWindow, start: datetime, end: datetime
) -> list[abandonment.DayFigures]:
    """The figures of each local day of the run on which someone answered a call."""
    days = []
    day = window.local(start).date()
    while day <= window.local(end).date():
        figures = abandonment.day_figures(session, day, window)
        if figures.live_answered:
            days.append(figures)
        day += timedelta(days=1)
    return days


def day_row(figures: abandonment.DayFigures) -> dict[str, object]:
    """One day's figures as the benchmark's JSON shows them."""
    return {
        "date": figures.day.isoformat(),
        "live_answered": figures.live_answered,
        "abandoned": figures.abandoned,
        "rate": round(figures.rate, 4),
    }


def handoff_figures(
    session: Session,
    window: CallingWindow,
    start: datetime,
    end: datetime,
    work_spans: list[Span] | None = None,
) -> HandoffFigures:
    """Every figure of the benchmark, for a run from ``start`` to ``end`` (simulated time);
    ``work_spans``: when calls were due (default: every calling hour of the run)."""
    days = run_abandonment(session, window, start, end)
    live = sum(day.live_answered for day in days)
    abandoned = sum(day.abandoned for day in days)
    worst = max((day.rate for day in days), default=0.0)
    waits = waits_s(session)
    calling_hours = _open_spans(window, start, end)
    busy_h, signed_in_h = occupancy_hours(
        session, calling_hours if work_spans is None else work_spans, end
    )
    all_busy_h, all_signed_in_h = occupancy_hours(session, calling_hours, end)
    referrals = session.scalar(select(func.count()).select_from(Referral)) or 0
    contacted = (
        session.scalar(
            select(func.count()).select_from(Referral).where(Referral.status.in_(CONTACTED))
        )
        or 0
    )
    handoffs = session.scalar(
        select(func.count()).select_from(Handoff).where(Handoff.attempt_id.is_not(None))
    )
    bridged = session.scalar(
        select(func.count())
        .select_from(Handoff)
        .where(Handoff.attempt_id.is_not(None), Handoff.connected_at.is_not(None))
    )
    median = statistics.median(waits) if waits else None
    p90 = percentile(waits, 0.9)
    return HandoffFigures(
        abandoned_rate=round(abandoned / live, 4) if live else 0.0,
        abandoned_rate_worst_day=round(worst, 4),
        days=[day_row(day) for day in days],
        live_answered=live,
        abandoned=abandoned,
        handoffs=int(handoffs or 0),
        bridged=int(bridged or 0),
        wait_median_s=None if median is None else round(median, 1),
        wait_p90_s=None if p90 is None else round(p90, 1),
        occupancy=round(busy_h / signed_in_h, 3) if signed_in_h else None,
        busy_hours=round(busy_h, 2),
        signed_in_hours=round(signed_in_h, 2),
        occupancy_calling_hours=(
            round(all_busy_h / all_signed_in_h, 3) if all_signed_in_h else None
        ),
        reach_rate=round(contacted / referrals, 3) if referrals else 0.0,
        referrals=int(referrals),
    )
