"""A call settled as bringing nobody to a handler is flagged, so pacing may start another at once
(``FollowUps.pace_now``; the worker then kicks dispatch)."""

from __future__ import annotations

import itertools
import uuid

import pytest
from sqlalchemy import Engine

from rmc_outreach import dispatch, events, outreach
from rmc_outreach.clock import frozen_at
from rmc_outreach.db import session_scope
from rmc_outreach.engine_config import EngineConfig
from rmc_outreach.models import ContactAttempt
from tests.engine.support import WEDNESDAY_10AM, FakeProvider
from tests.factories import create_referral

_keys = itertools.count()


def _placed_call(config: EngineConfig, provider: FakeProvider) -> uuid.UUID:
    with session_scope() as session:
        create_referral(session)
    (item,) = dispatch.run_dispatch(config).queued
    assert outreach.place_call(item.attempt_id, provider, config) is outreach.WorkResult.SENT
    return item.attempt_id


def _apply(attempt_id: uuid.UUID, kind: str, **payload: str) -> events.FollowUps:
    with session_scope() as session:
        sid = session.get_one(ContactAttempt, attempt_id).provider_sid
        event_id = events.record_event(
            session,
            event_key=f"decided-test:{next(_keys)}",
            kind=kind,
            payload={"CallSid": sid or "", **payload},
            attempt_id=attempt_id,
        )
    assert event_id is not None
    follow_ups, applied = events.apply_event(event_id)
    assert applied
    return follow_ups


@pytest.mark.parametrize(
    "case",
    [
        (events.EventKind.CALL_STATUS, {"CallStatus": "ringing"}, False),
        (events.EventKind.CALL_STATUS, {"CallStatus": "in-progress"}, False),
        (events.EventKind.CALL_AMD, {"AnsweredBy": "human"}, False),
        (events.EventKind.CALL_CHOICE, {"Digits": "1"}, False),  # waits for a handler
        (events.EventKind.CALL_AMD, {"AnsweredBy": "machine_end_beep"}, True),
        (events.EventKind.CALL_CHOICE, {"Digits": "2"}, True),  # text me how to book
        (events.EventKind.CALL_CHOICE, {"Digits": "3"}, True),  # no longer needed
        (events.EventKind.CALL_STATUS, {"CallStatus": "no-answer"}, True),
        (events.EventKind.CALL_STATUS, {"CallStatus": "completed", "CallDuration": "40"}, True),
    ],
)
def test_a_call_is_decided_when_it_can_no_longer_bring_a_patient_to_a_handler(
    database: Engine,
    config: EngineConfig,
    provider: FakeProvider,
    case: tuple[str, dict[str, str], bool],
) -> None:
    kind, payload, decided = case
    with frozen_at(WEDNESDAY_10AM):
        attempt_id = _placed_call(config, provider)
        follow_ups = _apply(attempt_id, kind, **payload)

    assert follow_ups.pace_now is decided


def test_a_repeated_final_status_decides_the_call_only_once(
    database: Engine, config: EngineConfig, provider: FakeProvider
) -> None:
    with frozen_at(WEDNESDAY_10AM):
        attempt_id = _placed_call(config, provider)
        first = _apply(attempt_id, events.EventKind.CALL_STATUS, CallStatus="no-answer")
        again = _apply(attempt_id, events.EventKind.CALL_STATUS, CallStatus="no-answer")

    assert (first.pace_now, again.pace_now) == (True, False)
