"""The engine against the carrier simulator over real HTTP: dispatch, the Twilio SDK, signed
webhooks into the real web app, events applied, until every call is final.

Only the network edge is simulated: the simulator validates every request against Twilio's spec
and calls our webhooks back, signed, exactly as Twilio would.
"""

from __future__ import annotations

import dataclasses
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import Engine, select
from werkzeug.serving import make_server

from admin_ui import create_app
from admin_ui.webhooks import CONNECT_HANDLERS, ENGINE_CONFIG_EXTENSION, ENQUEUE_EXTENSION
from rmc_outreach import acd, call_events, clock, events, outreach
from rmc_outreach.config import Settings
from rmc_outreach.db import session_scope
from rmc_outreach.dispatch import run_dispatch
from rmc_outreach.embedded_redis import free_port
from rmc_outreach.models import AttemptState, Channel, ContactAttempt, ReferralStatus
from rmc_outreach.simulation.carrier import start_simulator
from rmc_outreach.telephony.twilio_provider import TwilioProvider
from tests.engine.support import ACCOUNT_SID, AUTH_TOKEN, engine_config_for
from tests.factories import create_patient, create_referral, drama_landline, drama_mobile

WEDNESDAY_10AM = datetime(2026, 11, 25, 10, 0, tzinfo=UTC)
PATIENTS = 8


@dataclasses.dataclass
class Pipeline:
    settings: Settings
    provider: TwilioProvider
    simulator: Any
    enqueued: list[tuple[str, list[Any]]]
    lock: threading.Lock


@pytest.fixture
def pipeline(settings: Settings) -> Iterator[Pipeline]:
    web_port = free_port()
    wired = dataclasses.replace(
        settings,
        twilio_account_sid=ACCOUNT_SID,
        twilio_auth_token=AUTH_TOKEN,
        twilio_caller_id="+441632960000",
        public_base_url=f"http://127.0.0.1:{web_port}",
    )
    with clock.frozen_at(WEDNESDAY_10AM):
        simulator = start_simulator(wired, seed=11, time_scale=60.0)
        wired = dataclasses.replace(wired, twilio_api_base_url=simulator.base_url)
        app = create_app(wired)
        enqueued: list[tuple[str, list[Any]]] = []
        lock = threading.Lock()

        def enqueue(name: str, args: list[Any]) -> None:
            with lock:
                enqueued.append((name, args))

        app.extensions[ENQUEUE_EXTENSION] = enqueue
        app.extensions[ENGINE_CONFIG_EXTENSION] = engine_config_for(wired)
        server = make_server("127.0.0.1", web_port, app, threaded=True)
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        try:
            yield Pipeline(wired, TwilioProvider(wired), simulator, enqueued, lock)
        finally:
            server.shutdown()
            simulator.stop()


def _apply_enqueued(pipeline: Pipeline) -> None:
    config = engine_config_for(pipeline.settings)
    while True:
        with pipeline.lock:
            if not pipeline.enqueued:
                return
            name, args = pipeline.enqueued.pop(0)
        if name == CONNECT_HANDLERS:
            acd.connect_waiting(config, pipeline.provider)
            continue
        follow_ups, _applied = events.apply_event(int(args[0]))
        call_events.answer_machines(follow_ups, pipeline.provider, config)
        for sms_attempt_id in follow_ups.sms_attempt_ids:
            outreach.send_sms(sms_attempt_id, pipeline.provider, config)


def _unfinished_calls() -> int:
    with session_scope(read_only=True) as session:
        states = session.scalars(
            select(ContactAttempt.state).where(ContactAttempt.channel == Channel.CALL)
        ).all()
    return sum(state is not AttemptState.FINAL for state in states)


def test_calls_placed_through_the_sdk_end_final_with_every_request_valid(
    database: Engine, pipeline: Pipeline
) -> None:
    config = engine_config_for(pipeline.settings)
    with clock.frozen_at(WEDNESDAY_10AM):
        with session_scope() as session:
            for index in range(PATIENTS):
                patient = create_patient(
                    session,
                    mobile_phone=drama_mobile(100 + index),
                    landline_phone=drama_landline(100 + index),
                )
                create_referral(
                    session,
                    patient=patient,
                    status=ReferralStatus.WAITING,
                    next_action_at=WEDNESDAY_10AM,
                )
        queued = run_dispatch(config, moment=WEDNESDAY_10AM).queued
        if not any(item.channel is Channel.CALL for item in queued):
            queued = run_dispatch(config, moment=WEDNESDAY_10AM).queued
        calls = [item.attempt_id for item in queued if item.channel is Channel.CALL]
        assert len(calls) == PATIENTS
        for attempt_id in calls:
            outreach.place_call(attempt_id, pipeline.provider, config)

        deadline = time.monotonic() + 45
        while _unfinished_calls() and time.monotonic() < deadline:
            _apply_enqueued(pipeline)
            time.sleep(0.1)
        pipeline.simulator.wait_until_idle(timeout_s=10)
        _apply_enqueued(pipeline)

    assert _unfinished_calls() == 0
    stats = pipeline.simulator.stats()
    assert stats["validation_failures"] == 0
    created = [e for e in pipeline.simulator.ledger() if e.get("operation") == "create_call"]
    assert sorted(entry["attempt_id"] for entry in created) == sorted(str(a) for a in calls)
    assert all(entry["status"] < 400 for entry in pipeline.simulator.ledger("request"))
    with session_scope(read_only=True) as session:
        outcomes = session.scalars(
            select(ContactAttempt.outcome).where(ContactAttempt.channel == Channel.CALL)
        ).all()
    assert all(outcome is not None for outcome in outcomes)
