"""Workers claim before contact, hold no session during it, and never contact a patient who
was reached, opted out, or may not get the channel."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import Engine, select

from rmc_outreach import attempts, outreach
from rmc_outreach.clock import frozen_at
from rmc_outreach.db import session_scope
from rmc_outreach.engine_config import EngineConfig
from rmc_outreach.models import (
    AttemptOutcome,
    AttemptState,
    AuditEvent,
    Channel,
    ContactAttempt,
    Patient,
    Referral,
    ReferralStatus,
)
from rmc_outreach.telephony.errors import (
    AmbiguousProviderError,
    PermanentProviderError,
    RetryableProviderError,
)
from tests.engine.support import WEDNESDAY_10AM, FakeProvider
from tests.factories import create_attempt, create_patient, create_referral, drama_landline


def pending_attempt(channel: Channel = Channel.CALL, **patient_fields: object) -> uuid.UUID:
    with session_scope() as session:
        patient = create_patient(session, **patient_fields)
        referral = create_referral(
            session, patient=patient, status=ReferralStatus.IN_OUTREACH, journey_step=1
        )
        destination = patient.mobile_phone or patient.landline_phone
        attempt = create_attempt(
            session,
            referral,
            channel=channel,
            destination=destination,
            template="invitation" if channel is Channel.SMS else None,
        )
        return attempt.id


def load(attempt_id: uuid.UUID) -> ContactAttempt:
    with session_scope(read_only=True) as session:
        return attempts.get(session, attempt_id)


def test_a_call_is_placed_with_callbacks_carrying_the_attempt_id_and_recorded_as_sent(
    database: Engine, config: EngineConfig, provider: FakeProvider
) -> None:
    attempt_id = pending_attempt()
    with frozen_at(WEDNESDAY_10AM):
        result = outreach.place_call(attempt_id, provider, config)

    assert result is outreach.WorkResult.SENT
    (request,) = provider.calls
    assert str(attempt_id) in request.answer_url
    assert str(attempt_id) in request.status_callback_url
    assert str(attempt_id) in request.amd_callback_url
    attempt = load(attempt_id)
    assert attempt.state is AttemptState.SENT
    assert attempt.provider_sid in provider.known_calls
    assert attempt.claimed_at == WEDNESDAY_10AM


def test_the_same_attempt_run_twice_calls_the_patient_once(
    database: Engine, config: EngineConfig, provider: FakeProvider
) -> None:
    attempt_id = pending_attempt()
    with frozen_at(WEDNESDAY_10AM):
        first = outreach.place_call(attempt_id, provider, config)
        second = outreach.place_call(attempt_id, provider, config)

    assert (first, second) == (outreach.WorkResult.SENT, outreach.WorkResult.NOT_PENDING)
    assert len(provider.calls) == 1


def test_a_permanent_refusal_finishes_the_attempt_as_failed_with_the_reason(
    database: Engine, config: EngineConfig, provider: FakeProvider
) -> None:
    attempt_id = pending_attempt()
    provider.fail_with = PermanentProviderError("bad", code=21211, reason="invalid_number")
    with frozen_at(WEDNESDAY_10AM):
        result = outreach.place_call(attempt_id, provider, config)

    attempt = load(attempt_id)
    assert result is outreach.WorkResult.FAILED
    assert (attempt.state, attempt.outcome, attempt.error_reason) == (
        AttemptState.FINAL,
        AttemptOutcome.FAILED,
        "invalid_number",
    )


def test_an_ambiguous_failure_leaves_the_attempt_uncertain_and_is_not_retried(
    database: Engine, config: EngineConfig, provider: FakeProvider
) -> None:
    attempt_id = pending_attempt()
    provider.fail_with = AmbiguousProviderError("timeout", reason="connection_error")
    with frozen_at(WEDNESDAY_10AM):
        first = outreach.place_call(attempt_id, provider, config)
        second = outreach.place_call(attempt_id, provider, config)

    assert (first, second) == (outreach.WorkResult.UNCERTAIN, outreach.WorkResult.NOT_PENDING)
    assert load(attempt_id).state is AttemptState.UNCERTAIN
    assert provider.calls == []


def test_a_provider_outage_releases_the_attempt_and_defers_the_referral(
    database: Engine, config: EngineConfig, provider: FakeProvider
) -> None:
    attempt_id = pending_attempt()
    provider.fail_with = RetryableProviderError("refused", reason="connection_error")
    with frozen_at(WEDNESDAY_10AM):
        result = outreach.place_call(attempt_id, provider, config)

    attempt = load(attempt_id)
    assert result is outreach.WorkResult.DEFERRED
    assert attempt.state is AttemptState.PENDING
    with session_scope(read_only=True) as session:
        attempt = session.get_one(ContactAttempt, attempt_id)
        assert session.get_one(Referral, attempt.referral_id).next_action_at == (
            WEDNESDAY_10AM + config.retry_after_provider_outage
        )


@pytest.mark.parametrize(
    "status", [ReferralStatus.REACHED, ReferralStatus.DECLINED, ReferralStatus.BOOKED]
)
def test_a_patient_whose_referral_closed_is_never_called(
    database: Engine, config: EngineConfig, provider: FakeProvider, status: ReferralStatus
) -> None:
    attempt_id = pending_attempt()
    with session_scope() as session:
        attempt = attempts.get(session, attempt_id)
        session.get_one(Referral, attempt.referral_id).status = status
    with frozen_at(WEDNESDAY_10AM):
        result = outreach.place_call(attempt_id, provider, config)

    assert result is outreach.WorkResult.CANCELLED
    assert provider.calls == []
    assert load(attempt_id).error_reason == "referral_closed"


def test_a_patient_who_opted_out_of_contact_is_never_called(
    database: Engine, config: EngineConfig, provider: FakeProvider
) -> None:
    attempt_id = pending_attempt(contact_opted_out_at=WEDNESDAY_10AM)
    with frozen_at(WEDNESDAY_10AM):
        result = outreach.place_call(attempt_id, provider, config)

    assert result is outreach.WorkResult.CANCELLED
    assert provider.calls == []
    assert load(attempt_id).error_reason == "contact_opted_out"


@pytest.mark.parametrize(
    ("patient_fields", "reason"),
    [
        ({"sms_opted_out_at": WEDNESDAY_10AM}, "sms_opted_out"),
        ({"no_sms": True}, "no_sms"),
        ({"letter_only": True}, "letter_only"),
        ({"mobile_phone": None, "landline_phone": drama_landline(7)}, "not_a_mobile"),
        ({"landline_phone": drama_landline(8), "landline_only": True}, "landline_only"),
    ],
    ids=["opted-out", "no-sms-flag", "letter-only", "landline", "landline-only-flag"],
)
def test_a_text_goes_only_to_a_mobile_of_a_patient_who_may_get_texts(
    database: Engine,
    config: EngineConfig,
    provider: FakeProvider,
    patient_fields: dict[str, object],
    reason: str,
) -> None:
    attempt_id = pending_attempt(Channel.SMS, **patient_fields)
    with frozen_at(WEDNESDAY_10AM):
        result = outreach.send_sms(attempt_id, provider, config)

    assert result is outreach.WorkResult.CANCELLED
    assert provider.messages == []
    attempt = load(attempt_id)
    assert (attempt.outcome, attempt.error_reason) == (AttemptOutcome.CANCELED, reason)


def test_a_call_to_the_mobile_of_a_patient_now_landline_only_is_cancelled_not_placed(
    database: Engine, config: EngineConfig, provider: FakeProvider
) -> None:
    # Queued to the mobile before the patient asked for landline only.
    attempt_id = pending_attempt(landline_phone=drama_landline(9), landline_only=True)
    with frozen_at(WEDNESDAY_10AM):
        result = outreach.place_call(attempt_id, provider, config)

    assert result is outreach.WorkResult.CANCELLED
    assert provider.calls == []
    attempt = load(attempt_id)
    assert (attempt.outcome, attempt.error_reason) == (AttemptOutcome.CANCELED, "landline_only")


def test_a_call_to_the_landline_of_a_landline_only_patient_is_placed(
    database: Engine, config: EngineConfig, provider: FakeProvider
) -> None:
    with session_scope() as session:
        patient = create_patient(session, landline_phone=drama_landline(10), landline_only=True)
        referral = create_referral(
            session, patient=patient, status=ReferralStatus.IN_OUTREACH, journey_step=1
        )
        attempt_id = create_attempt(session, referral, destination=patient.landline_phone).id
    with frozen_at(WEDNESDAY_10AM):
        result = outreach.place_call(attempt_id, provider, config)

    assert result is outreach.WorkResult.SENT
    assert [call.to for call in provider.calls] == [drama_landline(10)]


def test_a_text_carries_the_booking_number_and_no_patient_detail(
    database: Engine, config: EngineConfig, provider: FakeProvider
) -> None:
    attempt_id = pending_attempt(Channel.SMS)
    with session_scope(read_only=True) as session:
        patient = session.scalars(select(Patient)).one()
        names = (patient.given_name, patient.family_name, patient.nhs_number)
    with frozen_at(WEDNESDAY_10AM):
        result = outreach.send_sms(attempt_id, provider, config)

    assert result is outreach.WorkResult.SENT
    (message,) = provider.messages
    assert config.public_context.booking_number in message.body
    assert not any(name in message.body for name in names)
    assert "Cardiology" not in message.body
    assert str(attempt_id) in message.status_callback_url


def test_a_provider_opt_out_refusal_records_our_own_sms_opt_out(
    database: Engine, config: EngineConfig, provider: FakeProvider
) -> None:
    attempt_id = pending_attempt(Channel.SMS)
    provider.fail_with = PermanentProviderError("opted out", code=21610, reason="opted_out")
    with frozen_at(WEDNESDAY_10AM):
        outreach.send_sms(attempt_id, provider, config)

    with session_scope(read_only=True) as session:
        patient = session.scalars(select(Patient)).one()
        assert patient.sms_opted_out_at == WEDNESDAY_10AM
        assert patient.sms_opt_out_source == "provider_21610"
        audited = session.execute(
            select(AuditEvent.actor_label, AuditEvent.action, AuditEvent.object_id)
        ).all()
        assert audited == [("twilio opt-out list", "sms_opt_out", str(patient.id))]
