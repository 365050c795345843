"""The sweeper reconciles stuck attempts with the provider and never re-dials blindly."""

from __future__ import annotations

import uuid
from datetime import timedelta

from sqlalchemy import Engine

from rmc_outreach import attempts, dispatch, events, outreach, reconcile
from rmc_outreach.clock import frozen_at
from rmc_outreach.db import session_scope
from rmc_outreach.engine_config import EngineConfig
from rmc_outreach.models import (
    AttemptOutcome,
    AttemptState,
    Channel,
    ContactAttempt,
    Referral,
    ReferralStatus,
)
from rmc_outreach.telephony.base import ProviderCall, ProviderMessage
from tests.engine.support import WEDNESDAY_10AM, FakeProvider
from tests.factories import create_attempt, create_referral

CLAIMED_AT = WEDNESDAY_10AM
SWEEP_AT = WEDNESDAY_10AM + timedelta(minutes=5)


def stuck_attempt(
    state: AttemptState, channel: Channel = Channel.CALL, **fields: object
) -> uuid.UUID:
    with frozen_at(CLAIMED_AT), session_scope() as session:
        referral = create_referral(session, status=ReferralStatus.IN_OUTREACH, journey_step=1)
        return create_attempt(
            session, referral, state=state, channel=channel, claimed_at=CLAIMED_AT, **fields
        ).id


def load(attempt_id: uuid.UUID) -> ContactAttempt:
    with session_scope(read_only=True) as session:
        return attempts.get(session, attempt_id)


def test_a_claimed_call_the_provider_never_saw_is_released_and_dialled_once_later(
    database: Engine, config: EngineConfig, provider: FakeProvider
) -> None:
    attempt_id = stuck_attempt(AttemptState.CLAIMED)

    with frozen_at(SWEEP_AT):
        result = reconcile.sweep(provider, config)
        queued = dispatch.run_dispatch(config).queued
        outcome = outreach.place_call(attempt_id, provider, config)

    assert (result.released, result.adopted) == (1, 0)
    assert queued == [dispatch.QueuedAttempt(attempt_id, Channel.CALL)]
    assert outcome is outreach.WorkResult.SENT
    assert len(provider.calls) == 1


def test_a_claimed_call_the_provider_did_place_is_adopted_not_dialled_again(
    database: Engine, config: EngineConfig, provider: FakeProvider
) -> None:
    attempt_id = stuck_attempt(AttemptState.CLAIMED)
    destination = load(attempt_id).destination
    placed = ProviderCall(
        sid="CA" + "d" * 32,
        status="completed",
        to=destination,
        start_time=CLAIMED_AT + timedelta(seconds=2),
        answered_by="machine_end_beep",
        duration_s=30,
    )
    provider.known_calls[placed.sid] = placed

    with frozen_at(SWEEP_AT):
        result = reconcile.sweep(provider, config)
        for event_id in result.events:
            events.apply_event(event_id)

    assert result.adopted == 1
    assert provider.calls == []
    attempt = load(attempt_id)
    assert attempt.provider_sid == placed.sid
    assert (attempt.state, attempt.outcome) == (
        AttemptState.FINAL,
        AttemptOutcome.MACHINE_NO_MESSAGE,
    )


def test_a_call_already_belonging_to_another_attempt_is_never_adopted(
    database: Engine, config: EngineConfig, provider: FakeProvider
) -> None:
    attempt_id = stuck_attempt(AttemptState.UNCERTAIN)
    destination = load(attempt_id).destination
    other_sid = "CA" + "e" * 32
    with session_scope() as session:
        other = create_referral(session, status=ReferralStatus.IN_OUTREACH)
        create_attempt(session, other, state=AttemptState.SENT, provider_sid=other_sid)
    provider.known_calls[other_sid] = ProviderCall(
        sid=other_sid, status="in-progress", to=destination, start_time=CLAIMED_AT
    )

    with frozen_at(SWEEP_AT):
        result = reconcile.sweep(provider, config)

    assert (result.adopted, result.released) == (0, 1)
    assert load(attempt_id).provider_sid is None


def test_an_unconfirmed_text_is_failed_never_sent_again(
    database: Engine, config: EngineConfig, provider: FakeProvider
) -> None:
    attempt_id = stuck_attempt(AttemptState.UNCERTAIN, Channel.SMS, template="invitation")

    with frozen_at(SWEEP_AT):
        result = reconcile.sweep(provider, config)
        again = outreach.send_sms(attempt_id, provider, config)

    attempt = load(attempt_id)
    assert result.failed == 1
    assert (attempt.state, attempt.outcome, attempt.error_reason) == (
        AttemptState.FINAL,
        AttemptOutcome.FAILED,
        "send_unconfirmed",
    )
    assert again is outreach.WorkResult.NOT_PENDING
    assert provider.messages == [] and provider.lookups == 0


def test_a_recently_claimed_attempt_is_left_alone(
    database: Engine, config: EngineConfig, provider: FakeProvider
) -> None:
    attempt_id = stuck_attempt(AttemptState.CLAIMED)

    with frozen_at(CLAIMED_AT + timedelta(seconds=30)):
        result = reconcile.sweep(provider, config)

    assert (result.adopted, result.released, provider.lookups) == (0, 0, 0)
    assert load(attempt_id).state is AttemptState.CLAIMED


def test_a_sent_call_whose_callbacks_were_lost_is_fetched_and_finished(
    database: Engine, config: EngineConfig, provider: FakeProvider
) -> None:
    sid = "CA" + "f" * 32
    attempt_id = stuck_attempt(AttemptState.SENT, provider_sid=sid)
    provider.known_calls[sid] = ProviderCall(sid=sid, status="no-answer", start_time=CLAIMED_AT)

    with frozen_at(CLAIMED_AT + config.stale_sent_call_after + timedelta(minutes=1)):
        result = reconcile.sweep(provider, config)
        for event_id in result.events:
            events.apply_event(event_id)

    assert result.fetched == 1
    attempt = load(attempt_id)
    assert (attempt.state, attempt.outcome) == (AttemptState.FINAL, AttemptOutcome.NO_ANSWER)


def test_a_sent_text_whose_delivery_report_was_lost_is_fetched_and_finished_once(
    database: Engine, config: EngineConfig, provider: FakeProvider
) -> None:
    sid = "SM" + "e" * 32
    attempt_id = stuck_attempt(AttemptState.SENT, Channel.SMS, provider_sid=sid)
    provider.known_messages[sid] = ProviderMessage(sid=sid, status="delivered")

    with frozen_at(CLAIMED_AT + config.stale_sent_sms_after + timedelta(minutes=1)):
        result = reconcile.sweep(provider, config)
        for event_id in result.events:
            events.apply_event(event_id)
        with session_scope() as session:
            late_webhook = events.record_event(
                session,
                event_key=events.sms_status_key(sid, "delivered"),
                kind=events.EventKind.SMS_STATUS,
                payload={"MessageSid": sid, "MessageStatus": "delivered"},
                attempt_id=attempt_id,
            )

    assert (result.fetched, len(result.events)) == (1, 1)
    attempt = load(attempt_id)
    assert (attempt.state, attempt.outcome) == (AttemptState.FINAL, AttemptOutcome.DELIVERED)
    assert late_webhook is None  # the report that finally arrives is a replay


def test_a_text_still_on_its_way_or_sent_recently_is_left_sent(
    database: Engine, config: EngineConfig, provider: FakeProvider
) -> None:
    on_its_way, recent = "SM" + "a" * 32, "SM" + "b" * 32
    slow_id = stuck_attempt(AttemptState.SENT, Channel.SMS, provider_sid=on_its_way)
    provider.known_messages[on_its_way] = ProviderMessage(sid=on_its_way, status="sent")
    sweep_at = CLAIMED_AT + config.stale_sent_sms_after + timedelta(minutes=1)
    with frozen_at(sweep_at), session_scope() as session:
        referral = create_referral(session, status=ReferralStatus.IN_OUTREACH, journey_step=1)
        recent_id = create_attempt(
            session,
            referral,
            channel=Channel.SMS,
            state=AttemptState.SENT,
            provider_sid=recent,
            claimed_at=sweep_at - timedelta(minutes=5),
        ).id

    with frozen_at(sweep_at):
        result = reconcile.sweep(provider, config)

    assert (result.fetched, result.events, provider.lookups) == (1, [], 1)
    assert load(slow_id).state is AttemptState.SENT
    assert load(recent_id).state is AttemptState.SENT


def test_lost_enqueues_are_found_again_pending_attempts_and_unapplied_events(
    database: Engine, config: EngineConfig, provider: FakeProvider
) -> None:
    with frozen_at(CLAIMED_AT), session_scope() as session:
        referral = create_referral(session, status=ReferralStatus.IN_OUTREACH, journey_step=1)
        pending_id = create_attempt(session, referral).id
        event_id = events.record_event(
            session,
            event_key="call-status:lost:ringing:1",
            kind=events.EventKind.CALL_STATUS,
            payload={"CallSid": "lost", "CallStatus": "ringing"},
            attempt_id=pending_id,
        )

    with frozen_at(SWEEP_AT):
        result = reconcile.sweep(provider, config)

    assert result.requeue == [dispatch.QueuedAttempt(pending_id, Channel.CALL)]
    assert result.events == [event_id]
    with session_scope(read_only=True) as session:
        assert session.get_one(Referral, referral.id).status is ReferralStatus.IN_OUTREACH
