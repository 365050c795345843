"""The live-answered calls today is still expected to have (``pacing`` weighs the day's
abandoned calls against them).

The abandoned-call cap is on each day's calls (domain.md): what counts is the rate a day ends
at, so three abandoned calls among the first hundred live-answered are a problem only if the day
will not have many more. Pacing needs a forecast of the rest of the day, and a cautious one: a
forecast too high lets pacing spend abandoned calls the day cannot absorb.

``expected_live`` is the smaller of

- the live-answered calls the recent rate brings until the calling window closes today
  (``forecast_live``): the rate since this stretch of calling began (the first call placed in
  the recent window, or today's opening if later), over at least ``FORECAST_MIN_SPAN`` so the
  first calls do not read as none. Calling often comes in stretches (retries fall due at one
  time of day): measured over a whole window that was quiet until a few minutes ago, the rate
  of a stretch that has just begun read as a fraction of itself, and a small day was paced one
  to one for its first quarter of an hour with nothing abandoned; and
- a cautious count of the live-answered calls the calls still to come today can bring
  (``due_live``: the referrals due before today's closing whose next step may be a call, and
  the calls in flight that are still undecided): ``FORECAST_Z`` standard deviations under what
  they bring at an answer rate a standard error under the measured one. When the morning works
  through the whole queue, the afternoon has only what is left.
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from rmc_outreach.engine_config import EngineConfig
from rmc_outreach.models import Channel, Referral, ReferralStatus
from rmc_outreach.models.states import PRIORITY_ORDER

FORECAST_MIN_SPAN = timedelta(minutes=10)
FORECAST_Z = 2.0


def forecast_live(
    live_recent: int,
    config: EngineConfig,
    moment: datetime,
    *,
    window: timedelta,
    since: datetime | None = None,
) -> float:
    """The live-answered calls the recent rate brings until the calling window closes today (0
    outside it): ``live_recent`` calls placed in the last ``window``, over the time since the
    first of them was placed (``since``; the start of the window when None), or since today's
    opening if later, but over at least ``FORECAST_MIN_SPAN``."""
    calling = config.window
    day = calling.local(moment).date()
    if not calling.is_working_day(day):
        return 0.0
    opening, closing = calling.opening(day), calling.closing(day)
    if not opening <= moment < closing:
        return 0.0
    began = max(opening, moment - window, since or opening)
    span = max(moment - began, FORECAST_MIN_SPAN)
    return live_recent * ((closing - moment) / span)


def due_live(due: int, answer_rate: float) -> float:
    """A cautious count of the live-answered calls ``due`` calls bring at ``answer_rate`` (a
    rate already taken on the low side): ``FORECAST_Z`` standard deviations under the mean,
    never below 0."""
    spread = math.sqrt(due * answer_rate * (1 - answer_rate))
    return max(0.0, due * answer_rate - FORECAST_Z * spread)


def calls_due_today(session: Session, config: EngineConfig, moment: datetime, *, upto: int) -> int:
    """Referrals in outreach, not paused, due before today's closing and whose next step is a
    call or not yet planned (it may be one), counted up to ``upto`` (a range of
    ``ix_referral_dispatch`` per priority, so a large queue costs no more than ``upto`` rows).
    """
    calling = config.window
    closing = calling.closing(calling.local(moment).date())
    found = 0
    for priority in PRIORITY_ORDER:
        if found >= upto:
            break
        due = (
            select(Referral.id)
            .where(
                Referral.status == ReferralStatus.IN_OUTREACH,
                Referral.priority == priority,
                Referral.next_action_at < closing,
                or_(Referral.next_channel.is_(None), Referral.next_channel == Channel.CALL),
                Referral.outreach_paused_at.is_(None),
            )
            .limit(upto - found)
            .subquery()
        )
        found += session.scalar(select(func.count()).select_from(due)) or 0
    return found


def expected_live(
    session: Session,
    config: EngineConfig,
    moment: datetime,
    *,
    live_recent: int,
    window: timedelta,
    answer_rate: float,
    calls_undecided: int,
    since: datetime | None = None,
) -> float:
    """The live-answered calls today is still expected to have (module docstring);
    ``answer_rate`` is taken on the low side (a standard error under the measured rate)."""
    by_rate = forecast_live(live_recent, config, moment, window=window, since=since)
    if by_rate <= 0:
        return 0.0
    if answer_rate <= 0:  # no bound from the calls due: nothing says how many will answer
        return by_rate
    # Enough referrals for the cautious count to reach the rate's forecast (with a mean of at
    # least 4 x FORECAST_Z^2 it is at least half the mean): counting more changes nothing.
    enough = math.ceil(2 * by_rate / answer_rate + 4 * FORECAST_Z**2 / answer_rate) + 1
    due = calls_due_today(session, config, moment, upto=enough) + calls_undecided
    return min(by_rate, due_live(due, answer_rate))
