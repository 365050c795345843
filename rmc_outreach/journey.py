"""The journey policy: given what has happened so far, what to do next and when (pure).

A journey is a cadence of steps, e.g. for a routine referral::

    1 call (morning)  -> 2 SMS (soon after an unanswered call) -> 3 call next working day
    (afternoon) -> 4 call two working days later (late) -> 5 SMS -> 6 letter (last resort)

Urgent and two-week-wait referrals use a faster cadence. Steps the patient cannot or must not get
are skipped: no SMS without a mobile, after an SMS opt-out or with the no-SMS flag; only letters
for letter-only patients; for landline-only patients calls on the landline and no SMS at all
(without a landline, only the letter); no letter without a postal address. The journey stops
the moment the patient is reached, books, declines or opts out of contact; when it runs out the
referral is ``exhausted`` and handed back to people.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time, timedelta
from enum import StrEnum

from rmc_outreach.calendar import CallingWindow
from rmc_outreach.models.states import Channel, Priority


class TimeOfDay(StrEnum):
    """Preferred part of the calling day for a step; varied so patients are tried at new times."""

    ANY = "any"
    MORNING = "morning"
    MIDDAY = "midday"
    AFTERNOON = "afternoon"
    LATE = "late"


SLOT_STARTS = {
    TimeOfDay.MORNING: time(9, 0),
    TimeOfDay.MIDDAY: time(12, 0),
    TimeOfDay.AFTERNOON: time(14, 30),
    TimeOfDay.LATE: time(16, 45),
}


@dataclass(frozen=True)
class Step:
    """One planned contact: a channel, how long after the previous step, and when in the day.

    ``working_days_later`` 0 means the same day if the window allows (after ``min_gap``);
    otherwise the step waits that many working days and goes at ``time_of_day``.
    """

    channel: Channel
    working_days_later: int = 0
    min_gap: timedelta = timedelta(minutes=10)
    time_of_day: TimeOfDay = TimeOfDay.ANY


ROUTINE_CADENCE = (
    Step(Channel.CALL, time_of_day=TimeOfDay.MORNING),
    Step(Channel.SMS, min_gap=timedelta(minutes=5)),
    Step(Channel.CALL, working_days_later=1, time_of_day=TimeOfDay.AFTERNOON),
    Step(Channel.CALL, working_days_later=2, time_of_day=TimeOfDay.LATE),
    Step(Channel.SMS, min_gap=timedelta(minutes=5)),
    Step(Channel.LETTER, working_days_later=1),
)

FAST_CADENCE = (
    Step(Channel.CALL),
    Step(Channel.SMS, min_gap=timedelta(minutes=5)),
    Step(Channel.CALL, min_gap=timedelta(hours=3)),
    Step(Channel.CALL, working_days_later=1, time_of_day=TimeOfDay.MORNING),
    Step(Channel.SMS, min_gap=timedelta(minutes=5)),
    Step(Channel.CALL, working_days_later=1, time_of_day=TimeOfDay.LATE),
    Step(Channel.LETTER, working_days_later=1),
)


@dataclass(frozen=True)
class JourneyPolicy:
    """Cadences by priority. Configurable: build one with other steps."""

    routine: tuple[Step, ...] = ROUTINE_CADENCE
    urgent: tuple[Step, ...] = FAST_CADENCE
    two_week_wait: tuple[Step, ...] = FAST_CADENCE

    def cadence(self, priority: Priority) -> tuple[Step, ...]:
        """The steps for a referral of this priority."""
        if priority is Priority.TWO_WEEK_WAIT:
            return self.two_week_wait
        if priority is Priority.URGENT:
            return self.urgent
        return self.routine


@dataclass(frozen=True)
class ContactProfile:
    """What the journey needs to know about the patient (no names, no numbers)."""

    has_mobile: bool
    has_landline: bool
    has_postal_address: bool
    no_sms: bool = False
    letter_only: bool = False
    landline_only: bool = False  # the mobile is never used: calls to the landline, no SMS
    sms_opted_out: bool = False
    contact_opted_out: bool = False

    def allows(self, channel: Channel) -> bool:
        """Whether this patient may be contacted on ``channel`` at all."""
        if self.contact_opted_out:
            return False
        if channel is Channel.LETTER:
            return self.has_postal_address
        if self.letter_only:
            return False
        if channel is Channel.SMS:
            return (
                self.has_mobile
                and not self.landline_only
                and not self.no_sms
                and not self.sms_opted_out
            )
        if self.landline_only:
            return self.has_landline
        return self.has_mobile or self.has_landline


@dataclass(frozen=True)
class NextContact:
    """Do journey step ``step`` (1-based) on ``channel`` at ``due_at`` (inside the window)."""

    step: int
    channel: Channel
    due_at: datetime


class EndReason(StrEnum):
    """Why a journey ended without reaching the patient."""

    EXHAUSTED = "exhausted"  # every step done: hand back to people
    NO_USABLE_CHANNEL = "no_usable_channel"  # nothing we may use: hand back to people
    OPTED_OUT = "opted_out"  # the patient asked not to be contacted


@dataclass(frozen=True)
class JourneyEnd:
    """No more automated contact; a person takes over."""

    reason: EndReason


def next_contact(
    policy: JourneyPolicy,
    priority: Priority,
    profile: ContactProfile,
    *,
    steps_done: int,
    last_contact_at: datetime | None,
    now: datetime,
    window: CallingWindow,
) -> NextContact | JourneyEnd:
    """The next step after ``steps_done`` steps, skipping any the patient cannot get.

    ``last_contact_at`` is when the previous step ended (None before the first step). Calls and
    SMS are only ever due inside the calling window; letters on a working day.
    """
    if profile.contact_opted_out:
        return JourneyEnd(EndReason.OPTED_OUT)
    cadence = policy.cadence(priority)
    if not any(profile.allows(step.channel) for step in cadence):
        return JourneyEnd(EndReason.NO_USABLE_CHANNEL)
    index = steps_done
    while index < len(cadence):
        step = cadence[index]
        if profile.allows(step.channel):
            return NextContact(index + 1, step.channel, _due_at(step, last_contact_at, now, window))
        index += 1
    return JourneyEnd(EndReason.EXHAUSTED)


def _due_at(step: Step, last: datetime | None, now: datetime, window: CallingWindow) -> datetime:
    if last is None:
        return window.next_open(now)
    earliest = max(now, last + step.min_gap)
    if step.working_days_later == 0:
        return window.next_open(earliest)
    day = window.local(last).date()
    for _ in range(step.working_days_later):
        day = window.next_working_day(day)
    slot = SLOT_STARTS.get(step.time_of_day, window.start)
    due = window.open_at(day, slot)
    return due if due >= earliest else window.next_open(earliest)
