"""The one clock every process reads.

All code asks ``now()`` for the time, never ``datetime.now()`` directly, so tests can freeze time
and the demo can run days of journeys in minutes.

In the demo (``RMC_CLOCK=simulated``, never in production) every process (web, workers, beat,
carrier simulator) reads one simulated clock kept in Redis: ``now = sim_anchor + (real time -
real_anchor) x rate``. Each process re-reads the anchor at most every quarter second, so all agree
to within that, and ``advance_to`` lets the demo jump over nights and weekends when nothing is
happening. A jump is written ahead of time and takes effect at one real moment for every process
(a process that read the anchor just before the jump would otherwise live up to a quarter second
in the night before, and stamp a call placed at 08:00 with yesterday evening's time).
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import redis

if TYPE_CHECKING:
    from rmc_outreach.config import Settings

CLOCK_KEY = "rmc:clock"
REFRESH_INTERVAL_S = 0.25
# A jump takes effect this long after it is written: longer than any process keeps a stale anchor.
JUMP_DELAY_S = 2 * REFRESH_INTERVAL_S

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


@dataclass(frozen=True)
class ClockAnchor:
    """Simulated time ``sim_anchor`` is reached at real time ``real_anchor``; until then (a jump
    written ahead of time) the ``before`` anchor, if any, still keeps the time."""

    real_anchor: float
    sim_anchor: float
    rate: float
    before: ClockAnchor | None = None

    def at(self, real_time: float) -> float:
        """Simulated epoch seconds at a real epoch time."""
        if self.before is not None and real_time < self.real_anchor:
            return self.before.at(real_time)
        return self.sim_anchor + (real_time - self.real_anchor) * self.rate

    def settled(self, real_time: float) -> ClockAnchor:
        """The same clock without the anchors that no longer matter at ``real_time``."""
        if self.before is None:
            return self
        if self.real_anchor <= real_time:
            return replace(self, before=None)
        return replace(self, before=self.before.settled(real_time))

    def _as_dict(self) -> dict[str, object]:
        data: dict[str, object] = {
            "real_anchor": self.real_anchor,
            "sim_anchor": self.sim_anchor,
            "rate": self.rate,
        }
        if self.before is not None:
            data["before"] = self.before._as_dict()
        return data

    def to_json(self) -> str:
        """Stored form."""
        return json.dumps(self._as_dict())

    @classmethod
    def _from_dict(cls, data: dict[str, object]) -> ClockAnchor:
        before = data.get("before")
        return cls(
            float(str(data["real_anchor"])),
            float(str(data["sim_anchor"])),
            float(str(data["rate"])),
            cls._from_dict(before) if isinstance(before, dict) else None,
        )

    @classmethod
    def from_json(cls, raw: str | bytes) -> ClockAnchor:
        """Parse the stored form."""
        data = json.loads(raw)
        return cls._from_dict(data)


class SimulatedClock:
    """A scaled clock shared through Redis by every process of a demo or benchmark."""

    def __init__(self, client: redis.Redis) -> None:
        self._client = client
        self._lock = threading.Lock()
        self._anchor: ClockAnchor | None = None
        self._read_at = 0.0

    def start(self, start_at: datetime, rate: float) -> None:
        """Set the clock to ``start_at`` now, running ``rate`` times faster than real time."""
        if rate <= 0:
            raise ValueError("clock rate must be positive")
        self._write(ClockAnchor(time.time(), start_at.timestamp(), rate))

    def advance_to(self, moment: datetime) -> None:
        """Jump forward to ``moment`` (never backwards), keeping the rate.

        The jump is written to take effect ``JUMP_DELAY_S`` from now, when every process (which
        re-reads the anchor at least every ``REFRESH_INTERVAL_S``) has it: all of them see the
        time jump at the same real moment. Returns once the jump is in effect.
        """
        anchor = self._current()
        real = time.time()
        switch = real + JUMP_DELAY_S
        if moment.timestamp() <= anchor.at(switch):
            return
        self._write(ClockAnchor(switch, moment.timestamp(), anchor.rate, anchor.settled(real)))
        time.sleep(max(0.0, switch - time.time()))

    @property
    def rate(self) -> float:
        """How many simulated seconds pass per real second."""
        return self._current().rate

    def now(self) -> datetime:
        """The simulated time, in UTC."""
        return datetime.fromtimestamp(self._current().at(time.time()), UTC)

    def _write(self, anchor: ClockAnchor) -> None:
        self._client.set(CLOCK_KEY, anchor.to_json())
        with self._lock:
            self._anchor, self._read_at = anchor, time.monotonic()

    def _current(self) -> ClockAnchor:
        with self._lock:
            if self._anchor is not None and time.monotonic() - self._read_at < REFRESH_INTERVAL_S:
                return self._anchor
        raw: bytes | None = self._client.get(CLOCK_KEY)  # type: ignore[assignment]
        if raw is None:
            raise RuntimeError("the simulated clock has not been started (no rmc:clock in Redis)")
        anchor = ClockAnchor.from_json(raw)
        with self._lock:
            self._anchor, self._read_at = anchor, time.monotonic()
        return anchor


_simulated: SimulatedClock | None = None


def use_simulated_clock(redis_url: str) -> SimulatedClock:
    """Make ``now()`` read the shared simulated clock in this process; return the clock."""
    global _source, _simulated  # noqa: PLW0603
    _simulated = SimulatedClock(redis.Redis.from_url(redis_url))
    _source = _simulated.now
    return _simulated


def simulated_clock() -> SimulatedClock | None:
    """The simulated clock in use in this process, if any."""
    return _simulated


def use_real_clock() -> None:
    """Back to real time (tests that switched to the simulated clock call this after)."""
    global _source, _simulated  # noqa: PLW0603
    _simulated = None
    _source = lambda: datetime.now(UTC)  # noqa: E731


def configure_clock(settings: Settings) -> None:
    """Choose this process's clock from settings: real, or the demo's shared simulated clock."""
    if settings.clock_mode == "simulated" and settings.redis_url:
        use_simulated_clock(settings.redis_url)
