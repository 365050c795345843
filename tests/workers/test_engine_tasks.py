"""The engine's tasks: names, queues and beat entries; they enqueue only after committing, onto
the right queue of a real Redis; the demo clock jumps only over quiet closed hours."""

from __future__ import annotations

import base64
import dataclasses
import json
import uuid
from collections.abc import Iterator
from datetime import timedelta

import pytest
import redis
from celery import Celery
from sqlalchemy import Engine, select

from rmc_outreach import clock, events
from rmc_outreach.calendar import CallingWindow
from rmc_outreach.clock import frozen_at
from rmc_outreach.config import Settings
from rmc_outreach.db import session_scope
from rmc_outreach.engine_config import in_clock_time
from rmc_outreach.handlers import change_state, create_handler
from rmc_outreach.models import (
    AttemptState,
    Channel,
    ContactAttempt,
    HandlerState,
    Letter,
    PrintBatch,
    ReferralStatus,
)
from tests.engine.support import (
    WEDNESDAY_10AM,
    WEDNESDAY_EVENING,
    FakeProvider,
    engine_config_for,
)
from tests.factories import create_attempt, create_referral
from workers import tasks
from workers.celery_app import BEAT_SCHEDULE, SIMULATED_CLOCK_SCHEDULE, create_celery_app
from workers.queues import TASK_QUEUES, Queues, TaskNames
from workers.runtime import configure_runtime, reset_runtime


@pytest.fixture
def engine_settings(settings: Settings, redis_url: str) -> Settings:
    return dataclasses.replace(settings, redis_url=redis_url)


@pytest.fixture
def provider(engine_settings: Settings) -> Iterator[FakeProvider]:
    fake = FakeProvider()
    configure_runtime(engine_settings, provider=fake, config=engine_config_for(engine_settings))
    yield fake
    reset_runtime()


@pytest.fixture
def broker(engine_settings: Settings, redis_client: redis.Redis) -> Iterator[redis.Redis]:
    """A Celery app publishing to the test Redis, made current; yields the Redis to read."""
    app: Celery = create_celery_app(engine_settings)
    app.set_current()
    yield redis_client


def queued_tasks(client: redis.Redis, queue: str) -> list[tuple[str, list[object]]]:
    messages = [json.loads(raw) for raw in client.lrange(queue, 0, -1)]
    found = []
    for message in messages:
        body = json.loads(base64.b64decode(message["body"]))
        found.append((message["headers"]["task"], body[0]))
    return found


def test_every_engine_task_goes_to_the_queue_for_its_kind_of_work() -> None:
    assert TASK_QUEUES[TaskNames.PLACE_CALL] == Queues.CALLS
    assert TASK_QUEUES[TaskNames.SEND_SMS] == Queues.SMS
    assert TASK_QUEUES[TaskNames.PREPARE_LETTER] == Queues.LETTERS
    assert TASK_QUEUES[TaskNames.APPLY_PROVIDER_EVENT] == Queues.PROVIDER_EVENTS
    assert TASK_QUEUES[TaskNames.DISPATCH_DUE_REFERRALS] == Queues.PERIODIC


def test_beat_dispatches_every_1_s_sweeps_every_30_s_and_checks_the_print_batch_every_minute() -> (
    None
):
    intervals = {name: entry["schedule"] for name, entry in BEAT_SCHEDULE.items()}

    assert intervals[TaskNames.DISPATCH_DUE_REFERRALS] == 1.0
    assert intervals[TaskNames.SWEEP_STUCK_ATTEMPTS] == 30.0
    assert intervals[TaskNames.CUT_PRINT_BATCH] == 60.0
    assert TaskNames.ADVANCE_SIMULATED_CLOCK not in BEAT_SCHEDULE
    assert TaskNames.ADVANCE_SIMULATED_CLOCK in SIMULATED_CLOCK_SCHEDULE


def test_the_simulated_clock_is_advanced_by_beat_only_in_simulated_mode(
    engine_settings: Settings,
) -> None:
    simulated = dataclasses.replace(engine_settings, clock_mode="simulated")
    try:
        app = create_celery_app(simulated)
    finally:
        clock.use_real_clock()

    assert TaskNames.ADVANCE_SIMULATED_CLOCK in app.conf.beat_schedule
    assert (
        TaskNames.ADVANCE_SIMULATED_CLOCK
        not in create_celery_app(engine_settings).conf.beat_schedule
    )


def test_the_dispatch_task_enqueues_committed_attempts_on_the_calls_queue(
    database: Engine, provider: FakeProvider, broker: redis.Redis
) -> None:
    with session_scope() as session:
        create_referral(session)

    with frozen_at(WEDNESDAY_10AM):
        count = tasks.dispatch_due_referrals()

    with session_scope(read_only=True) as session:
        attempt = session.scalars(select(ContactAttempt)).one()
    assert count == 1
    assert queued_tasks(broker, Queues.CALLS) == [(TaskNames.PLACE_CALL, [str(attempt.id)])]
    assert provider.calls == []  # dispatch only enqueues; the worker dials


def test_the_place_call_task_places_the_call_through_the_runtime_provider(
    database: Engine, provider: FakeProvider
) -> None:
    with session_scope() as session:
        referral = create_referral(session, status=ReferralStatus.IN_OUTREACH, journey_step=1)
        attempt_id = create_attempt(session, referral).id

    with frozen_at(WEDNESDAY_10AM):
        result = tasks.place_call(str(attempt_id))

    assert result == "sent"
    assert len(provider.calls) == 1


def test_the_print_batch_is_cut_after_four_on_a_working_day_only(
    database: Engine, provider: FakeProvider
) -> None:
    with session_scope() as session:
        referral = create_referral(session, status=ReferralStatus.IN_OUTREACH, journey_step=6)
        attempt_id = create_attempt(session, referral, channel=Channel.LETTER, step=6).id
    with frozen_at(WEDNESDAY_10AM):
        assert tasks.prepare_letter(str(attempt_id)) == "sent"
        before_cut = tasks.cut_print_batch()
    with frozen_at(WEDNESDAY_10AM + timedelta(hours=6, minutes=30)):
        cut = tasks.cut_print_batch()
        again = tasks.cut_print_batch()

    assert (before_cut, cut, again) == (0, 1, 0)
    with session_scope(read_only=True) as session:
        assert session.scalars(select(PrintBatch.day)).one() == WEDNESDAY_10AM.date()
        assert session.scalars(select(Letter.status)).one() == "printed"
        assert session.get_one(ContactAttempt, attempt_id).state is AttemptState.FINAL


def test_the_simulated_clock_jumps_to_the_next_opening_only_when_closed_and_quiet(
    database: Engine, provider: FakeProvider, redis_client: redis.Redis, redis_url: str
) -> None:
    simulated = clock.use_simulated_clock(redis_url)
    try:
        simulated.start(WEDNESDAY_EVENING, rate=1.0)
        with session_scope() as session:
            referral = create_referral(session, status=ReferralStatus.IN_OUTREACH)
            in_flight = create_attempt(session, referral, state=AttemptState.SENT)
        held = tasks.advance_simulated_clock()
        with session_scope() as session:
            session.get_one(ContactAttempt, in_flight.id).state = AttemptState.FINAL
        jumped = tasks.advance_simulated_clock()
        after = clock.now()
    finally:
        clock.use_real_clock()

    opening = CallingWindow().next_open(WEDNESDAY_EVENING)
    assert (held, jumped) == (False, True)
    assert opening <= after < opening + timedelta(minutes=1)


def test_real_waits_of_the_sweeper_stretch_with_the_demo_clock_rate(redis_url: str) -> None:
    assert in_clock_time(timedelta(seconds=5)) == timedelta(seconds=5)
    simulated = clock.use_simulated_clock(redis_url)
    try:
        simulated.start(WEDNESDAY_10AM, rate=60.0)
        stretched = in_clock_time(timedelta(seconds=5))
    finally:
        clock.use_real_clock()

    assert stretched == timedelta(minutes=5)


def test_a_free_handler_with_nobody_waiting_kicks_dispatch_once_per_debounce(
    database: Engine, provider: FakeProvider, broker: redis.Redis, redis_url: str
) -> None:
    with session_scope() as session:
        handler = create_handler(session, None, "Handler 1", "client:h1")
    # Nobody available: connecting handlers does nothing else.
    with frozen_at(WEDNESDAY_10AM):
        assert tasks.connect_handlers() == 0
    assert queued_tasks(broker, Queues.PERIODIC) == []

    with session_scope() as session:
        change_state(session, handler.id, HandlerState.AVAILABLE)
    with frozen_at(WEDNESDAY_10AM):
        assert tasks.connect_handlers() == 0
        assert tasks.connect_handlers() == 0  # within the debounce: one kick

    assert queued_tasks(broker, Queues.PERIODIC) == [(TaskNames.DISPATCH_DUE_REFERRALS, [])]
    broker.delete(tasks.DISPATCH_KICK_KEY)  # the debounce time has passed
    assert tasks.kick_dispatch(redis_url)
    assert len(queued_tasks(broker, Queues.PERIODIC)) == 2


def _report_call(attempt_id: uuid.UUID, status: str) -> int:
    with session_scope() as session:
        sid = session.get_one(ContactAttempt, attempt_id).provider_sid or ""
        event_id = events.record_event(
            session,
            event_key=events.call_status_key(sid, status, "1"),
            kind=events.EventKind.CALL_STATUS,
            payload={"CallSid": sid, "CallStatus": status},
            attempt_id=attempt_id,
            provider_sid=sid,
        )
    assert event_id is not None
    return event_id


def test_a_call_that_rang_out_kicks_dispatch_so_pacing_can_start_another(
    database: Engine, provider: FakeProvider, broker: redis.Redis
) -> None:
    with session_scope() as session:
        referral = create_referral(session, status=ReferralStatus.IN_OUTREACH, journey_step=1)
        attempt_id = create_attempt(session, referral).id
    with frozen_at(WEDNESDAY_10AM):
        assert tasks.place_call(str(attempt_id)) == "sent"
        assert tasks.apply_provider_event(_report_call(attempt_id, "ringing"))
        assert queued_tasks(broker, Queues.PERIODIC) == []  # still ringing: may bring someone
        assert tasks.apply_provider_event(_report_call(attempt_id, "no-answer"))

    assert queued_tasks(broker, Queues.PERIODIC) == [(TaskNames.DISPATCH_DUE_REFERRALS, [])]
