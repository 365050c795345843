"""Staff time saved and estimated provider cost, from the work done and the assumptions.

- *Manual minutes*: what the manual process would have spent on the same work: every call
  placed (dialling and waiting), every voicemail left (on top), every text sent and every letter
  printed, at ``Assumptions``' minutes each.
- *Staff minutes*: what staff still spend: each printed letter's handling and each handoff's
  extra (whisper, screen-pop). Conversations take as long either way and are in neither.
- *Staff time saved*: manual minus staff minutes, in hours; *FTE per day*: those hours over the
  hours of an FTE day and the range's working days (the calling window's: no weekends or bank
  holidays); *reduction*: the share of the manual minutes saved.
- *Provider cost*: call minutes billed (each call's started minutes) at the per-minute price,
  SMS segments at the per-segment price, letters printed at the letter price. Outbound patient
  legs only: the handler's leg of a bridged handoff and inbound texts are not included.
"""

from __future__ import annotations

from dataclasses import dataclass

from rmc_outreach.metrics.activity import WorkCounts
from rmc_outreach.metrics.assumptions import Assumptions

MINUTES_PER_HOUR = 60


@dataclass(frozen=True)
class StaffTime:
    """Staff time saved over a range (see the module docstring)."""

    manual_minutes: float
    staff_minutes: float
    working_days: int
    hours_per_fte_day: float

    @property
    def saved_hours(self) -> float:
        """Hours of staff time saved."""
        return round((self.manual_minutes - self.staff_minutes) / MINUTES_PER_HOUR, 2)

    @property
    def fte_per_day(self) -> float | None:
        """Full-time staff saved per working day; None when the range has no working day."""
        if not self.working_days:
            return None
        hours = (self.manual_minutes - self.staff_minutes) / MINUTES_PER_HOUR
        return round(hours / self.hours_per_fte_day / self.working_days, 2)

    @property
    def reduction(self) -> float | None:
        """The share of the manual process's minutes saved; None when there were none."""
        if not self.manual_minutes:
            return None
        return round(1 - self.staff_minutes / self.manual_minutes, 4)


@dataclass(frozen=True)
class ProviderCost:
    """Estimated provider cost over a range, in pounds (see the module docstring)."""

    call_minutes: int
    sms_segments: int
    letters_printed: int
    calls: float
    sms: float
    letters: float

    @property
    def total(self) -> float:
        """Calls, texts and letters together."""
        return round(self.calls + self.sms + self.letters, 2)


def staff_time(work: WorkCounts, assumptions: Assumptions, working_days: int) -> StaffTime:
    """Staff time saved for ``work`` done over ``working_days``."""
    a = assumptions
    manual = (
        work.calls * a.manual_minutes_per_call
        + work.voicemails * a.manual_minutes_per_voicemail
        + work.sms * a.manual_minutes_per_sms
        + work.letters_printed * a.manual_minutes_per_letter
    )
    staff = (
        work.letters_printed * a.staff_minutes_per_printed_letter
        + work.handoffs_bridged * a.staff_minutes_per_handoff
    )
    return StaffTime(
        manual_minutes=round(manual, 2),
        staff_minutes=round(staff, 2),
        working_days=working_days,
        hours_per_fte_day=a.hours_per_fte_day,
    )


def provider_cost(work: WorkCounts, assumptions: Assumptions) -> ProviderCost:
    """The estimated provider cost of ``work``."""
    return ProviderCost(
        call_minutes=work.call_minutes,
        sms_segments=work.sms_segments,
        letters_printed=work.letters_printed,
        calls=round(work.call_minutes * assumptions.call_price_per_minute, 2),
        sms=round(work.sms_segments * assumptions.sms_price_per_segment, 2),
        letters=round(work.letters_printed * assumptions.letter_price, 2),
    )
