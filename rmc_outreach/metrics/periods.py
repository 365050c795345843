"""The date range the statistics cover, and local days and weeks in SQL.

A range is a run of whole local days (the calling window's time zone, Europe/London by default):
``first`` to ``last`` inclusive, read as the UTC instants ``[start, end)``. Figures are grouped
by the local day an event happened on; weeks start on Monday and are named by that Monday.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, Date, case, cast, func, literal
from sqlalchemy.orm import InstrumentedAttribute, Session

from rmc_outreach.calendar import CallingWindow

# A timestamp column of a model, or an expression giving one.
Timestamp = ColumnElement[datetime] | InstrumentedAttribute[datetime]

DEFAULT_DAYS = 28
# Longer ranges are refused: two years of a centre's attempts is already a large read.
MAX_DAYS = 731


class RangeError(ValueError):
    """A date range that cannot be used (unreadable, backwards or too long)."""


@dataclass(frozen=True)
class DateRange:
    """Local days ``first`` to ``last``, both included."""

    first: date
    last: date

    def __post_init__(self) -> None:
        if self.last < self.first:
            raise RangeError(f"the range ends ({self.last}) before it starts ({self.first})")
        if self.days > MAX_DAYS:
            raise RangeError(f"a range may cover at most {MAX_DAYS} days, not {self.days}")

    @property
    def days(self) -> int:
        """How many local days the range covers."""
        return (self.last - self.first).days + 1

    def each_day(self) -> list[date]:
        """Every day of the range, in order."""
        return [self.first + timedelta(days=n) for n in range(self.days)]

    def bounds(self, zone: ZoneInfo) -> tuple[datetime, datetime]:
        """The UTC instants the range starts at and ends before."""
        start = datetime.combine(self.first, time(0), tzinfo=zone).astimezone(UTC)
        end = datetime.combine(self.last + timedelta(days=1), time(0), tzinfo=zone)
        return start, end.astimezone(UTC)


def default_range(today: date, days: int = DEFAULT_DAYS) -> DateRange:
    """The last ``days`` local days, today included."""
    return DateRange(today - timedelta(days=days - 1), today)


def parse_range(first: str | None, last: str | None, today: date) -> DateRange:
    """A range from two ISO dates (YYYY-MM-DD), either may be empty: the missing end is today,
    the missing start ``DEFAULT_DAYS`` before the end. Raises ``RangeError`` with a sentence a
    person can act on."""
    last_day = _parse_day(last, "to") if last else today
    first_day = _parse_day(first, "from") if first else last_day - timedelta(days=DEFAULT_DAYS - 1)
    return DateRange(first_day, last_day)


def _parse_day(text: str, name: str) -> date:
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        raise RangeError(f"'{name}' must be a date written YYYY-MM-DD, not {text!r}") from None


def week_of(day: date) -> date:
    """The Monday of ``day``'s week."""
    return day - timedelta(days=day.weekday())


def working_days(date_range: DateRange, window: CallingWindow) -> int:
    """The calling window's working days in the range (bank holidays excluded)."""
    return sum(1 for day in date_range.each_day() if window.is_working_day(day))


def local_day_of(
    session: Session, column: Timestamp, zone: ZoneInfo, date_range: DateRange
) -> ColumnElement[date]:
    """SQL for the local day of a UTC timestamp ``column`` in ``zone``.

    PostgreSQL converts with its own time-zone database. SQLite has none: the range is cut into
    spans of one UTC offset (found here, with Python's zone data) and each span shifts by its
    offset, so every value inside the range gets its local day exactly.
    """
    if session.get_bind().dialect.name == "postgresql":
        return cast(func.timezone(zone.key, column), Date)
    start, end = date_range.bounds(zone)
    spans = _offset_spans(start, end, zone)
    if len(spans) == 1:
        return func.date(column, _modifier(spans[0][1]))
    whens = [(column < until, func.date(column, _modifier(offset))) for until, offset in spans[:-1]]
    return case(*whens, else_=func.date(column, _modifier(spans[-1][1])))


def as_date(value: date | str) -> date:
    """A day as SQLite (text) or PostgreSQL (date) returns it."""
    return value if isinstance(value, date) else date.fromisoformat(value)


def _modifier(offset: timedelta) -> ColumnElement[str]:
    minutes = int(offset.total_seconds() // 60)
    return literal(f"{minutes:+d} minutes")


def _offset_spans(
    start: datetime, end: datetime, zone: ZoneInfo
) -> list[tuple[datetime, timedelta]]:
    """(span end, UTC offset) for each run of one offset between ``start`` and ``end``.
    An offset changes at most once a day, on a quarter hour in every zone in use."""
    spans: list[tuple[datetime, timedelta]] = []
    offset = _offset(start, zone)
    moment = start
    while moment < end:
        following = min(moment + timedelta(days=1), end)
        if _offset(following, zone) != offset:
            change = moment
            while _offset(change, zone) == offset:
                change += timedelta(minutes=15)
            spans.append((change, offset))
            offset = _offset(change, zone)
        moment = following
    spans.append((end, offset))
    return spans


def _offset(moment: datetime, zone: ZoneInfo) -> timedelta:
    return moment.astimezone(zone).utcoffset() or timedelta(0)


def seconds_between(session: Session, later: Timestamp, earlier: Timestamp) -> ColumnElement[float]:
    """SQL for whole seconds from ``earlier`` to ``later`` (rounded), on either backend."""
    if session.get_bind().dialect.name == "postgresql":
        return func.round(func.extract("epoch", later - earlier))
    return func.round((func.julianday(later) - func.julianday(earlier)) * 86400)
