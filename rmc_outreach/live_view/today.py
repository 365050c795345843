"""Today's rates for the live view: reach rate so far and the abandoned-call rate against its cap.

"Today" is the local day of the calling window (``activity.local_day``). Both rates are read
through day-bounded index ranges: attempts by ``ix_contact_attempt_created_at`` (their
handoffs by ``ix_handoff_attempt_id``); earlier call attempts of a referral through
``uq_contact_attempt_step`` (``referral_id`` leads it).
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

from sqlalchemy import and_, case, exists, func, select
from sqlalchemy.orm import Session, aliased

from rmc_outreach.abandonment import day_figures
from rmc_outreach.activity import LocalDay
from rmc_outreach.calendar import CallingWindow
from rmc_outreach.engine_config import OFCOM_ABANDONED_RATE_CAP
from rmc_outreach.models import Channel, ContactAttempt, Referral

# Ofcom's persistent-misuse policy: abandoned calls under 3% of live-answered calls per day. The
# engine's configured cap (``EngineConfig.abandoned_rate_cap``) is passed in where there is one.
ABANDONED_RATE_CAP = OFCOM_ABANDONED_RATE_CAP
# An alert is raised when the rate reaches this share of the cap, before the cap itself.
NEAR_CAP_SHARE = Fraction(4, 5)


def share(part: int, whole: int) -> float | None:
    """``part / whole`` rounded to 4 places; None when ``whole`` is zero (no rate yet)."""
    return round(part / whole, 4) if whole else None


@dataclass(frozen=True)
class ReachToday:
    """Reach rate so far today.

    ``first_called``: referrals whose first call attempt ever was created today (a referral
    called before today is not counted, however many times it is called today).
    ``reached``: those of them reached today (``referral.reached_at`` today, by any channel).
    ``rate``: ``reached / first_called``; None before the day's first call. Measuring the day's
    new referrals only keeps the rate between 0 and 1 and makes it "of the patients we started
    calling today, the share we have been in contact with".
    """

    first_called: int
    reached: int
    rate: float | None


def reach_today(session: Session, day: LocalDay) -> ReachToday:
    """The reach rate so far today (see ``ReachToday``)."""
    earlier = aliased(ContactAttempt)
    called_before = exists().where(
        earlier.referral_id == ContactAttempt.referral_id,
        earlier.channel == Channel.CALL,
        earlier.created_at < day.start,
    )
    first_called = (
        select(ContactAttempt.referral_id)
        .where(
            ContactAttempt.channel == Channel.CALL,
            ContactAttempt.created_at >= day.start,
            ContactAttempt.created_at < day.end,
            ~called_before,
        )
        .distinct()
        .subquery()
    )
    reached_today = and_(Referral.reached_at >= day.start, Referral.reached_at < day.end)
    total, reached = session.execute(
        select(
            func.count(),
            func.coalesce(func.sum(case((reached_today, 1), else_=0)), 0),
        ).select_from(first_called.join(Referral, Referral.id == first_called.c.referral_id))
    ).one()
    return ReachToday(first_called=int(total), reached=int(reached), rate=share(reached, total))


@dataclass(frozen=True)
class AbandonedToday:
    """The abandoned-call rate today, Ofcom's measure, as ``rmc_outreach.abandonment`` defines it.

    ``live_answered``: outbound call attempts created today that a person answered (the
    carrier's answering-machine detection said ``human``, or a keypad choice was recorded).
    ``abandoned``: those of them whose patient asked for a handler and nobody took them in time
    (``handoff.abandoned``). ``rate``: ``abandoned / live_answered``, None before any live answer
    (the page says "no live-answered calls yet" rather than 0%). ``cap``: the limit it must stay
    under; ``near_cap``: ``NEAR_CAP_SHARE`` of the cap.
    """

    abandoned: int
    live_answered: int
    rate: float | None
    cap: float

    @property
    def near_cap(self) -> float:
        """The rate at which the view warns that the cap is close."""
        return float(_exact(self.cap) * NEAR_CAP_SHARE)

    @property
    def over_cap(self) -> bool:
        """At or over the cap (compared exactly: 3 of 100 is at a 3% cap)."""
        return self.live_answered > 0 and self.abandoned >= _exact(self.cap) * self.live_answered

    @property
    def close_to_cap(self) -> bool:
        """At or above ``near_cap`` and under the cap."""
        near = _exact(self.cap) * NEAR_CAP_SHARE * self.live_answered
        return self.live_answered > 0 and not self.over_cap and self.abandoned >= near


def _exact(rate: float) -> Fraction:
    # The cap as written (0.03 is 3/100, not the float nearest to it).
    return Fraction(str(rate))


def abandoned_today(
    session: Session, day: LocalDay, window: CallingWindow, cap: float = ABANDONED_RATE_CAP
) -> AbandonedToday:
    """The abandoned-call rate today against ``cap``, counted by ``abandonment.day_figures``
    (the one definition pacing also runs by)."""
    figures = day_figures(session, day.day, window)
    return AbandonedToday(
        abandoned=figures.abandoned,
        live_answered=figures.live_answered,
        rate=share(figures.abandoned, figures.live_answered),
        cap=cap,
    )
