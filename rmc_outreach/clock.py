"""The one clock every process reads.

All code asks ``now()`` for the time, never ``datetime.now()`` directly, so tests can freeze time
and the demo can run days of journeys in minutes.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime

_source: Callable[[], datetime] = lambda: datetime.now(UTC)  # noqa: E731


def now() -> datetime:
    """The current time, timezone-aware, in UTC."""
    return _source()


@contextmanager
def frozen_at(moment: datetime) -> Iterator[None]:
    """Make ``now()`` return ``moment`` (must be timezone-aware) inside the block."""
    global _source  # noqa: PLW0603
    if moment.tzinfo is None:
        raise ValueError("frozen_at needs a timezone-aware datetime")
    previous = _source
    _source = lambda: moment.astimezone(UTC)  # noqa: E731
    try:
        yield
    finally:
        _source = previous
