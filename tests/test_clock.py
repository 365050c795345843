"""One clock for every process: frozen in tests, shared and scaled through Redis in the demo."""

from __future__ import annotations

import threading
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


def test_another_process_sees_a_jump_as_soon_as_the_jumping_process_does(
    simulated: clock.SimulatedClock, redis_url: str
) -> None:
    simulated.start(datetime(2026, 11, 27, 18, 30, tzinfo=UTC), rate=1.0)
    monday = datetime(2026, 11, 30, 8, 0, tzinfo=UTC)
    other = clock.SimulatedClock(redis.Redis.from_url(redis_url))
    assert other.now() < monday  # the other process has just read (and keeps) the anchor

    simulated.advance_to(monday)

    # Both stamp the same simulated time: never a call at 08:00 logged as Friday evening.
    assert clock.now() >= monday
    assert other.now() >= monday


def test_until_a_jump_takes_effect_every_process_still_sees_the_time_before_it(
    simulated: clock.SimulatedClock, redis_url: str
) -> None:
    simulated.start(datetime(2026, 11, 27, 18, 30, tzinfo=UTC), rate=1.0)
    monday = datetime(2026, 11, 30, 8, 0, tzinfo=UTC)
    other = clock.SimulatedClock(redis.Redis.from_url(redis_url))
    jumping = threading.Thread(target=simulated.advance_to, args=(monday,))

    jumping.start()
    time.sleep(clock.JUMP_DELAY_S / 5)
    seen_while_pending = (clock.now(), other.now())
    jumping.join()

    assert all(moment < monday for moment in seen_while_pending)
    assert clock.now() >= monday and other.now() >= monday
