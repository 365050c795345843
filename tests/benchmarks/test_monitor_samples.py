"""The benchmarks' monitor: idle handler time split by calls due and by pacing's answer."""

from __future__ import annotations

import itertools
from datetime import timedelta

from sqlalchemy import Engine

from benchmarks.pipeline_parts.monitor import PACING_ALLOWED, RunLog, Sample, _add_idle, take_sample
from rmc_outreach import handlers
from rmc_outreach.clock import frozen_at
from rmc_outreach.config import Settings
from rmc_outreach.db import session_scope
from rmc_outreach.models import Channel, HandlerState, ReferralStatus
from tests.engine.support import WEDNESDAY_10AM, engine_config_for
from tests.factories import create_referral


def _sample(seconds: int, available: int, waiting: int, pacing: str | None) -> Sample:
    return Sample(
        open_referrals=1,
        open_attempts=0,
        calls_busy=0,
        calls_placed=0,
        events_unapplied=0,
        calls_waiting=waiting,
        at=WEDNESDAY_10AM + timedelta(seconds=seconds),
        handlers_available=available,
        pacing=pacing,
    )


def test_idle_time_is_counted_per_handler_by_calls_due_and_by_pacing() -> None:
    log = RunLog()
    samples = [
        _sample(0, 2, 3, "handlers_covered"),
        _sample(10, 1, 0, None),
        _sample(15, 1, 25, PACING_ALLOWED),
        _sample(19, 0, 25, None),
    ]
    for previous, sample in itertools.pairwise(samples):
        _add_idle(log, previous, sample)

    assert log.idle_handler_s == {"1-4": 20.0, "0-0": 5.0, "20+": 4.0}
    assert log.idle_handler_s_by_pacing == {"handlers_covered": 20.0, PACING_ALLOWED: 4.0}
    day = WEDNESDAY_10AM.date().isoformat()
    assert log.idle_handler_s_by_day == {day: {"handlers_covered": 20.0, PACING_ALLOWED: 4.0}}


def test_a_sample_asks_pacing_only_while_a_handler_is_idle_with_calls_due(
    database: Engine, settings: Settings
) -> None:
    config = engine_config_for(settings)
    with frozen_at(WEDNESDAY_10AM - timedelta(minutes=5)), session_scope() as session:
        create_referral(
            session, status=ReferralStatus.IN_OUTREACH, next_action_at=WEDNESDAY_10AM
        ).next_channel = Channel.CALL
        handler = handlers.create_handler(session, None, "H", "client:h")
    with frozen_at(WEDNESDAY_10AM):
        nobody_free = take_sample(config.window, config)
        with session_scope() as session:
            handlers.change_state(session, handler.id, HandlerState.AVAILABLE)
        one_free = take_sample(config.window, config)
        without_config = take_sample(config.window)

    assert (nobody_free.calls_waiting, nobody_free.pacing) == (1, None)
    assert (one_free.handlers_available, one_free.pacing) == (1, PACING_ALLOWED)
    assert without_config.pacing is None
