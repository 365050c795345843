"""Calling windows, bank holidays and working days (pure functions, no I/O).

Nothing is dialled or texted outside the window: Monday to Friday 08:00-18:00 Europe/London by
default, never on a bank holiday of the configured region (England and Wales by default). Letters
go out on any working day.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

import holidays

MONDAY_TO_FRIDAY = frozenset({0, 1, 2, 3, 4})

# holidays' subdivisions of the United Kingdom; England and Wales share their bank holidays.
HOLIDAY_REGIONS = {
    "england-and-wales": "ENG",
    "scotland": "SCT",
    "northern-ireland": "NIR",
}


@lru_cache(maxsize=32)
def _bank_holidays(region: str, year: int) -> frozenset[date]:
    subdivision = HOLIDAY_REGIONS[region]
    return frozenset(holidays.country_holidays("GB", subdiv=subdivision, years=year))


@dataclass(frozen=True)
class CallingWindow:
    """When automated contact may happen: days of the week, hours, zone and holiday region."""

    start: time = time(8, 0)
    end: time = time(18, 0)
    days: frozenset[int] = field(default=MONDAY_TO_FRIDAY)
    timezone: str = "Europe/London"
    holiday_region: str = "england-and-wales"
    extra_closed_days: frozenset[date] = frozenset()

    def __post_init__(self) -> None:
        if self.start >= self.end:
            raise ValueError("a calling window must start before it ends")
        if not self.days or not self.days <= set(range(7)):
            raise ValueError("calling days must be weekday numbers 0 (Monday) to 6 (Sunday)")
        if self.holiday_region not in HOLIDAY_REGIONS:
            known = ", ".join(HOLIDAY_REGIONS)
            raise ValueError(f"holiday region must be one of {known}")
        ZoneInfo(self.timezone)  # raises for an unknown zone

    @property
    def zone(self) -> ZoneInfo:
        """The window's time zone."""
        return ZoneInfo(self.timezone)

    def is_bank_holiday(self, day: date) -> bool:
        """True on a bank holiday of the region, or a day the centre has closed."""
        return day in _bank_holidays(self.holiday_region, day.year) or day in self.extra_closed_days

    def is_working_day(self, day: date) -> bool:
        """A calling day of the week that is not a bank holiday."""
        return day.weekday() in self.days and not self.is_bank_holiday(day)

    def local(self, moment: datetime) -> datetime:
        """``moment`` in the window's zone (it must be timezone-aware)."""
        if moment.tzinfo is None:
            raise ValueError("calendar functions need timezone-aware datetimes")
        return moment.astimezone(self.zone)

    def is_open(self, moment: datetime) -> bool:
        """True when automated calls and texts may be made at ``moment``."""
        local = self.local(moment)
        return self.is_working_day(local.date()) and self.start <= local.time() < self.end

    def opening(self, day: date) -> datetime:
        """The window's start on ``day``, in UTC."""
        return datetime.combine(day, self.start, tzinfo=self.zone).astimezone(UTC)

    def closing(self, day: date) -> datetime:
        """The window's end on ``day``, in UTC."""
        return datetime.combine(day, self.end, tzinfo=self.zone).astimezone(UTC)

    def next_working_day(self, day: date) -> date:
        """The first working day strictly after ``day``."""
        candidate = day + timedelta(days=1)
        for _ in range(370):
            if self.is_working_day(candidate):
                return candidate
            candidate += timedelta(days=1)
        raise ValueError("no working day within a year: check the calling days")

    def next_open(self, moment: datetime) -> datetime:
        """``moment`` itself if the window is open then, else the next time it opens (UTC)."""
        if self.is_open(moment):
            return moment.astimezone(UTC)
        local = self.local(moment)
        today = local.date()
        if self.is_working_day(today) and local.time() < self.start:
            return self.opening(today)
        return self.opening(self.next_working_day(today))

    def open_at(self, day: date, at: time) -> datetime:
        """The first open moment at or after ``at`` on ``day`` or a later working day (UTC)."""
        at = min(max(at, self.start), self.end)
        moment = datetime.combine(day, at, tzinfo=self.zone)
        return self.next_open(moment)
