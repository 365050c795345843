"""The journey moves on after every attempt until the patient is reached or it runs out."""

from __future__ import annotations

import uuid
from datetime import datetime

import pytest
from sqlalchemy import Engine, select

from rmc_outreach import dispatch, events, outreach
from rmc_outreach.clock import frozen_at
from rmc_outreach.db import session_scope
from rmc_outreach.engine_config import EngineConfig
from rmc_outreach.models import (
    AttemptOutcome,
    Channel,
    ContactAttempt,
    Priority,
    Referral,
    ReferralStatus,
)
from tests.engine.support import WEDNESDAY_10AM, FakeProvider
from tests.factories import create_patient, create_referral, drama_landline


def report_call(attempt_id: uuid.UUID, status: str, **extra: str) -> None:
    """Store and apply a call callback, as the webhook and its task would."""
    with session_scope() as session:
        attempt = session.get_one(ContactAttempt, attempt_id)
        sid = attempt.provider_sid or ""
        event_id = events.record_event(
            session,
            event_key=events.call_status_key(sid, status, "9"),
            kind=events.EventKind.CALL_STATUS,
            payload={"CallSid": sid, "CallStatus": status, **extra},
            attempt_id=attempt_id,
            provider_sid=sid,
        )
    assert event_id is not None
    events.apply_event(event_id)


def work(item: dispatch.QueuedAttempt, provider: FakeProvider, config: EngineConfig) -> None:
    """What the workers do with a queued attempt; calls ring out unanswered."""
    if item.channel is Channel.CALL:
        assert outreach.place_call(item.attempt_id, provider, config) is outreach.WorkResult.SENT
        report_call(item.attempt_id, "no-answer")
    elif item.channel is Channel.SMS:
        assert outreach.send_sms(item.attempt_id, provider, config) is outreach.WorkResult.SENT
    else:
        assert outreach.prepare_letter(item.attempt_id, config) is outreach.WorkResult.SENT


def load_referral(referral_id: int) -> Referral:
    with session_scope(read_only=True) as session:
        return session.get_one(Referral, referral_id)


def walk_journey(
    referral_id: int, provider: FakeProvider, config: EngineConfig
) -> list[tuple[Channel, datetime]]:
    """Run dispatch and the workers at each planned moment until the journey stops."""
    done: list[tuple[Channel, datetime]] = []
    moment = WEDNESDAY_10AM
    for _ in range(20):
        with frozen_at(moment):
            for item in dispatch.run_dispatch(config).queued:
                work(item, provider, config)
                done.append((item.channel, moment))
            dispatch.run_dispatch(config)  # plans the next step
        referral = load_referral(referral_id)
        if referral.status is not ReferralStatus.IN_OUTREACH or referral.next_action_at is None:
            break
        moment = max(moment, referral.next_action_at)
    return done


def test_an_unanswered_routine_journey_runs_call_sms_call_call_sms_letter_then_is_exhausted(
    database: Engine, config: EngineConfig, provider: FakeProvider
) -> None:
    with session_scope() as session:
        referral_id = create_referral(session).id

    done = walk_journey(referral_id, provider, config)

    assert [channel for channel, _ in done] == [
        Channel.CALL,
        Channel.SMS,
        Channel.CALL,
        Channel.CALL,
        Channel.SMS,
        Channel.LETTER,
    ]
    assert all(config.window.is_open(at) for _, at in done)
    assert len({at.date() for channel, at in done if channel is Channel.CALL}) == 3
    referral = load_referral(referral_id)
    assert (referral.status, referral.journey_end_reason) == (ReferralStatus.EXHAUSTED, "exhausted")
    assert len(provider.calls) == 3 and len(provider.messages) == 2


def test_a_letter_only_patient_gets_just_the_letter(
    database: Engine, config: EngineConfig, provider: FakeProvider
) -> None:
    with session_scope() as session:
        patient = create_patient(session, letter_only=True, large_print=True)
        referral_id = create_referral(session, patient=patient, priority=Priority.URGENT).id

    done = walk_journey(referral_id, provider, config)

    assert [channel for channel, _ in done] == [Channel.LETTER]
    assert provider.calls == [] and provider.messages == []


def test_a_landline_only_patient_is_called_only_on_the_landline_and_never_texted(
    database: Engine, config: EngineConfig, provider: FakeProvider
) -> None:
    with session_scope() as session:
        patient = create_patient(session, landline_phone=drama_landline(41), landline_only=True)
        referral_id = create_referral(session, patient=patient).id
        landline = patient.landline_phone

    done = walk_journey(referral_id, provider, config)

    assert [channel for channel, _ in done] == [
        Channel.CALL,
        Channel.CALL,
        Channel.CALL,
        Channel.LETTER,
    ]
    assert [call.to for call in provider.calls] == [landline] * 3
    assert provider.messages == []
    with session_scope(read_only=True) as session:
        destinations = session.scalars(
            select(ContactAttempt.destination).where(ContactAttempt.channel == Channel.CALL)
        ).all()
    assert destinations == [landline] * 3


def test_a_landline_only_patient_without_a_landline_gets_the_letter_and_no_call_or_text(
    database: Engine, config: EngineConfig, provider: FakeProvider
) -> None:
    with session_scope() as session:
        patient = create_patient(session, landline_phone=None, landline_only=True)
        referral_id = create_referral(session, patient=patient, priority=Priority.URGENT).id

    done = walk_journey(referral_id, provider, config)

    assert [channel for channel, _ in done] == [Channel.LETTER]
    assert provider.calls == [] and provider.messages == []


def test_a_landline_only_patient_with_no_landline_and_no_address_is_handed_back(
    database: Engine, config: EngineConfig, provider: FakeProvider
) -> None:
    with session_scope() as session:
        patient = create_patient(
            session, landline_phone=None, landline_only=True, address_line_1=None
        )
        referral_id = create_referral(session, patient=patient).id

    assert walk_journey(referral_id, provider, config) == []

    referral = load_referral(referral_id)
    assert (referral.status, referral.journey_end_reason) == (
        ReferralStatus.EXHAUSTED,
        "no_usable_channel",
    )
    assert provider.calls == [] and provider.messages == []


@pytest.mark.parametrize(
    ("status", "outcome"),
    [
        ("no-answer", AttemptOutcome.NO_ANSWER),
        ("busy", AttemptOutcome.BUSY),
        ("failed", AttemptOutcome.FAILED),
        ("completed", AttemptOutcome.NO_ANSWER),
    ],
)
def test_after_each_unreached_call_outcome_the_next_step_is_planned(
    database: Engine,
    config: EngineConfig,
    provider: FakeProvider,
    status: str,
    outcome: AttemptOutcome,
) -> None:
    with session_scope() as session:
        referral_id = create_referral(session).id
    with frozen_at(WEDNESDAY_10AM):
        (item,) = dispatch.run_dispatch(config).queued
        outreach.place_call(item.attempt_id, provider, config)
        report_call(item.attempt_id, status)
        dispatch.run_dispatch(config)

    referral = load_referral(referral_id)
    with session_scope(read_only=True) as session:
        attempt = session.get_one(ContactAttempt, item.attempt_id)
    assert attempt.outcome is outcome
    assert referral.status is ReferralStatus.IN_OUTREACH
    assert (referral.journey_step, referral.next_channel) == (1, Channel.SMS)
    assert referral.last_contact_at == WEDNESDAY_10AM
    assert referral.next_action_at is not None and referral.next_action_at > WEDNESDAY_10AM


def test_a_reached_patient_gets_no_further_step(
    database: Engine, config: EngineConfig, provider: FakeProvider
) -> None:
    with session_scope() as session:
        referral_id = create_referral(session).id
    with frozen_at(WEDNESDAY_10AM):
        (item,) = dispatch.run_dispatch(config).queued
        outreach.place_call(item.attempt_id, provider, config)
        with session_scope() as session:
            attempt = session.get_one(ContactAttempt, item.attempt_id)
            choice = events.record_event(
                session,
                event_key="choice:test:1",
                kind=events.EventKind.CALL_CHOICE,
                payload={"CallSid": attempt.provider_sid, "Digits": "1"},
                attempt_id=item.attempt_id,
            )
        assert choice is not None
        events.apply_event(choice)
        report_call(item.attempt_id, "completed", CallDuration="95")
        later = dispatch.run_dispatch(config)

    referral = load_referral(referral_id)
    assert (referral.status, referral.reached_by) == (ReferralStatus.REACHED, Channel.CALL)
    assert referral.next_action_at is None
    assert later.queued == []
    with session_scope(read_only=True) as session:
        assert session.scalars(select(ContactAttempt.outcome)).all() == [
            AttemptOutcome.HUMAN_HANDOFF
        ]
