"""Abandoned calls (Ofcom): the one definition of the day's abandoned-call rate, and the
no-redial lockout after an abandoned call.

- A call is *live-answered* when a person answered it: ``answered_by = 'human'`` or any keypad
  choice (only a person presses a key).
- A call is *abandoned* when its patient asked for a handler and nobody took them in time
  (``Handoff.abandoned``); they heard the information message and a callback was requested.
- The *abandoned-call rate* of a day is abandoned / live-answered among the outbound call
  attempts created that local day (the calling window's time zone). Inbound calls are not
  outbound calls and count in neither.
- After an abandoned call, no automated call goes to that number, nor to any referral of a
  patient with that number, nor to that referral on any number, for the lockout (72 hours by
  default). Callbacks made by a handler are not automated calls: a handler is guaranteed.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy import ColumnElement, Select, func, or_, select, union
from sqlalchemy.orm import Session

from rmc_outreach.calendar import CallingWindow
from rmc_outreach.engine_config import OFCOM_REDIAL_LOCKOUT
from rmc_outreach.models import Channel, ContactAttempt, Handoff, Patient, Referral

HUMAN = "human"
# No patient waits for a handler this long: bounds the lockout's read of ``ix_handoff_queued_at``.
LONGEST_WAIT = timedelta(hours=1)


def live_answered() -> ColumnElement[bool]:
    """The condition on ``ContactAttempt``: a person answered the call."""
    return or_(ContactAttempt.answered_by == HUMAN, ContactAttempt.keypad_choice.is_not(None))


def day_bounds(day: date, window: CallingWindow) -> tuple[datetime, datetime]:
    """The start and end (UTC, end exclusive) of a local day in the window's time zone;
    23 or 25 hours long when the clocks change."""
    start = datetime.combine(day, time(0), tzinfo=window.zone).astimezone(UTC)
    end = datetime.combine(day + timedelta(days=1), time(0), tzinfo=window.zone).astimezone(UTC)
    return start, end


@dataclass(frozen=True)
class DayFigures:
    """A day's live-answered outbound calls, how many of them were abandoned, and the rate."""

    day: date
    live_answered: int
    abandoned: int

    @property
    def rate(self) -> float:
        """Abandoned per live-answered call; 0 on a day nobody answered."""
        return self.abandoned / self.live_answered if self.live_answered else 0.0


def day_figures(session: Session, day: date, window: CallingWindow) -> DayFigures:
    """Live-answered and abandoned outbound calls of a local day (through
    ``ix_contact_attempt_created_at``)."""
    start, end = day_bounds(day, window)
    answered = (
        select(ContactAttempt.id)
        .where(
            ContactAttempt.created_at >= start,
            ContactAttempt.created_at < end,
            ContactAttempt.channel == Channel.CALL,
            live_answered(),
        )
        .subquery()
    )
    live = session.scalar(select(func.count()).select_from(answered)) or 0
    abandoned = (
        session.scalar(
            select(func.count(func.distinct(Handoff.attempt_id))).where(
                Handoff.attempt_id.in_(select(answered.c.id)), Handoff.abandoned.is_(True)
            )
        )
        or 0
    )
    return DayFigures(day, live, abandoned)


def abandoned_rate(session: Session, day: date, window: CallingWindow) -> float:
    """The day's abandoned calls per live-answered outbound call (Ofcom's measure)."""
    return day_figures(session, day, window).rate


def _abandoned_at() -> ColumnElement[datetime]:
    """When a handoff was abandoned: when it ended (the information message), else queued."""
    return func.coalesce(Handoff.ended_at, Handoff.queued_at)


def _recent_abandoned(moment: datetime, lockout: timedelta) -> Select[int | None, str | None]:
    """Referral and number of every outbound call abandoned within ``lockout`` of ``moment``."""
    since = moment - lockout
    return (
        select(Handoff.referral_id, ContactAttempt.destination)
        .join(ContactAttempt, ContactAttempt.id == Handoff.attempt_id)
        .where(
            Handoff.abandoned.is_(True),
            Handoff.queued_at > since - LONGEST_WAIT,  # the index; the next line decides
            _abandoned_at() > since,
            _abandoned_at() <= moment,
        )
    )


def locked_referral_ids(moment: datetime, lockout: timedelta = OFCOM_REDIAL_LOCKOUT) -> Select[int]:
    """A select of the ids of referrals no automated call may go to at ``moment``: a call to
    the referral, or to one of its patient's numbers, was abandoned less than ``lockout`` ago.

    Never yields NULL, so ``Referral.id.not_in(locked_referral_ids(...))`` is safe.
    """
    recent = _recent_abandoned(moment, lockout).cte("recently_abandoned")
    numbers = select(recent.c.destination).where(recent.c.destination.is_not(None))
    by_referral = select(recent.c.referral_id.label("referral_id")).where(
        recent.c.referral_id.is_not(None)
    )
    by_number = (
        select(Referral.id.label("referral_id"))
        .join(Patient, Patient.id == Referral.patient_id)
        .where(or_(Patient.mobile_phone.in_(numbers), Patient.landline_phone.in_(numbers)))
    )
    locked = union(by_referral, by_number).subquery("locked_referral")
    return select(locked.c.referral_id)


def locked_referral_id_set(
    session: Session, moment: datetime, lockout: timedelta = OFCOM_REDIAL_LOCKOUT
) -> set[int]:
    """The same referrals as ``locked_referral_ids``, read in two small steps for dispatch:
    the recent abandoned calls (through ``ix_handoff_queued_at``; usually none, and then nothing
    more is read), then the referrals of patients on those numbers (through the phone indexes)
    instead of a join over every patient."""
    rows = session.execute(_recent_abandoned(moment, lockout)).all()
    locked = {referral_id for referral_id, _ in rows if referral_id is not None}
    numbers = sorted({number for _, number in rows if number})
    if numbers:
        locked |= set(
            session.scalars(
                select(Referral.id)
                .join(Patient, Patient.id == Referral.patient_id)
                .where(or_(Patient.mobile_phone.in_(numbers), Patient.landline_phone.in_(numbers)))
            )
        )
    return locked


def redial_locked_until(
    session: Session,
    target: int | str,
    moment: datetime,
    lockout: timedelta = OFCOM_REDIAL_LOCKOUT,
) -> datetime | None:
    """When automated calls to ``target`` (a referral id, or a phone number in E.164) may start
    again, if an abandoned call locks it at ``moment``; None when it is not locked.

    A referral is locked by an abandoned call to it or to any of its patient's numbers.
    """
    if isinstance(target, str):
        matches: ColumnElement[bool] = ContactAttempt.destination == target
    else:
        numbers = [
            number
            for number in session.execute(
                select(Patient.mobile_phone, Patient.landline_phone)
                .join(Referral, Referral.patient_id == Patient.id)
                .where(Referral.id == target)
            ).one_or_none()
            or ()
            if number
        ]
        matches = or_(Handoff.referral_id == target, ContactAttempt.destination.in_(numbers))
    last = session.scalar(
        select(func.max(_abandoned_at()))
        .join(ContactAttempt, ContactAttempt.id == Handoff.attempt_id)
        .where(
            Handoff.abandoned.is_(True),
            Handoff.queued_at > moment - lockout - LONGEST_WAIT,
            _abandoned_at() <= moment,
            matches,
        )
    )
    if last is None:
        return None
    until: datetime = last + lockout
    return until if until > moment else None
