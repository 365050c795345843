"""One clock for every process: frozen in tests, shared and scaled through Redis in the demo."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
import redis

from rmc_outreach import clock


@pytest.fixture
def simulated(redis_client: redis.Redis, redis_url: str) -> Iterator[clock.SimulatedClock]:
    shared = clock.use_simulated_clock(redis_url)
    yield shared
    clock.use_real_clock()


def test_frozen_time_is_what_now_returns() -> None:
    moment = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)
    with clock.frozen_at(moment):
        assert clock.now() == moment
    assert clock.now() != moment


def test_the_simulated_clock_runs_at_its_rate_for_every_reader(
    simulated: clock.SimulatedClock, redis_url: str
) -> None:
    start = datetime(2026, 11, 30, 8, 0, tzinfo=UTC)
    simulated.start(start, rate=600.0)
    time.sleep(0.1)
    elapsed = clock.now() - start
    assert timedelta(seconds=50) <= elapsed <= timedelta(seconds=300)
    # Another process's view (a second clock on the same Redis) agrees.
    other = clock.SimulatedClock(redis.Redis.from_url(redis_url))
    assert abs((other.now() - clock.now()).total_seconds()) < 0.3 * 600


def test_advancing_jumps_forward_but_never_back(simulated: clock.SimulatedClock) -> None:
    start = datetime(2026, 11, 27, 18, 0, tzinfo=UTC)
    simulated.start(start, rate=1.0)
    monday = datetime(2026, 11, 30, 7, 59, tzinfo=UTC)
    simulated.advance_to(monday)
    assert monday <= clock.now() < monday + timedelta(seconds=5)
    simulated.advance_to(start)
    assert clock.now() >= monday


def test_a_clock_that_was_never_started_says_so(simulated: clock.SimulatedClock) -> None:
    with pytest.raises(RuntimeError, match="has not been started"):
        clock.now()
