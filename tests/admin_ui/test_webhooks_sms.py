"""Texts from patients: STOP stops texts before the webhook returns; CALL or any reply reaches
the patient and asks a handler to ring back; numbers are never guessed."""

from __future__ import annotations

from sqlalchemy import select

from rmc_outreach import outreach
from rmc_outreach.clock import frozen_at
from rmc_outreach.db import session_scope
from rmc_outreach.models import (
    AttemptOutcome,
    AttemptState,
    AuditEvent,
    CallbackRequest,
    Channel,
    ContactAttempt,
    Patient,
    Referral,
    ReferralStatus,
)
from tests.admin_ui.webhook_support import Webhooks, webhooks_fixture  # noqa: F401
from tests.engine.support import WEDNESDAY_10AM
from tests.factories import create_attempt, create_patient, create_referral, drama_mobile

_message_numbers = iter(range(1, 10_000))


def inbound(webhooks: Webhooks, number: str, body: str, message_sid: str | None = None) -> str:
    sid = message_sid or f"SM{next(_message_numbers):032x}"
    params = {"MessageSid": sid, "AccountSid": "AC" + "0" * 32, "From": number, "Body": body}
    params["To"] = "+441632960000"
    response = webhooks.post("/twilio/sms/inbound", params)
    assert response.status_code == 200
    assert response.mimetype == "application/xml"
    return response.get_data(as_text=True)


def patient_in_outreach(**patient_fields: object) -> tuple[int, str]:
    """A referral in outreach with a pending SMS and a pending call; returns (referral, mobile)."""
    with session_scope() as session:
        patient = create_patient(session, **patient_fields)
        referral = create_referral(
            session, patient=patient, status=ReferralStatus.IN_OUTREACH, journey_step=2
        )
        create_attempt(session, referral, channel=Channel.SMS, step=2, template="invitation")
        create_attempt(session, referral, channel=Channel.CALL, step=2)
        return referral.id, patient.mobile_phone or ""


def pending_attempt_ids(referral_id: int, channel: Channel) -> list[object]:
    with session_scope(read_only=True) as session:
        return list(
            session.scalars(
                select(ContactAttempt.id).where(
                    ContactAttempt.referral_id == referral_id, ContactAttempt.channel == channel
                )
            )
        )


def test_stop_is_recorded_before_the_webhook_returns_and_no_text_follows(
    webhooks: Webhooks,
) -> None:
    referral_id, mobile = patient_in_outreach()

    with frozen_at(WEDNESDAY_10AM):
        reply = inbound(webhooks, mobile, " Stop ")
        # No task has run: the opt-out must already be in the database.
        with session_scope(read_only=True) as session:
            patient = session.scalars(select(Patient)).one()
            assert patient.sms_opted_out_at == WEDNESDAY_10AM
            assert patient.sms_opt_out_source == "sms_stop"
        (sms_id,) = pending_attempt_ids(referral_id, Channel.SMS)
        result = outreach.send_sms(sms_id, webhooks.provider, webhooks.config)  # type: ignore[arg-type]

    assert "Reply START" in reply
    assert webhooks.enqueued == []  # nothing left for a task to do
    assert result is outreach.WorkResult.CANCELLED
    assert webhooks.provider.messages == []
    with session_scope(read_only=True) as session:
        audit = session.scalars(select(AuditEvent)).one()
        assert (audit.action, audit.object_type) == ("sms_opt_out", "patient")
        # An SMS opt-out stops texts, not the journey: the referral is still in outreach.
        assert session.get_one(Referral, referral_id).status is ReferralStatus.IN_OUTREACH


def test_every_opt_out_keyword_opts_out_and_start_opts_back_in(webhooks: Webhooks) -> None:
    with session_scope() as session:
        mobile = create_patient(session).mobile_phone or ""
    opted_out = []
    for keyword in ("STOPALL", "unsubscribe", "Cancel", "END", "quit", "REVOKE", "optout"):
        inbound(webhooks, mobile, keyword)
        with session_scope() as session:
            patient = session.scalars(select(Patient)).one()
            opted_out.append(patient.sms_opted_out_at is not None)
            patient.sms_opted_out_at = None
    inbound(webhooks, mobile, "STOP")
    start_reply = inbound(webhooks, mobile, "start")

    assert all(opted_out)
    assert "again" in start_reply
    with session_scope(read_only=True) as session:
        assert session.scalars(select(Patient)).one().sms_opted_out_at is None


def test_help_gets_the_help_text_and_changes_nothing(webhooks: Webhooks) -> None:
    referral_id, mobile = patient_in_outreach()

    reply = inbound(webhooks, mobile, "HELP")

    assert webhooks.config.public_context.booking_number in reply
    assert webhooks.enqueued == []
    with session_scope(read_only=True) as session:
        assert session.get_one(Referral, referral_id).status is ReferralStatus.IN_OUTREACH


def test_call_reaches_the_patient_stops_every_channel_and_asks_for_a_callback(
    webhooks: Webhooks,
) -> None:
    referral_id, mobile = patient_in_outreach()

    with frozen_at(WEDNESDAY_10AM):
        reply = inbound(webhooks, mobile, "CALL")
        webhooks.run_enqueued()
        (call_id,) = pending_attempt_ids(referral_id, Channel.CALL)
        result = outreach.place_call(call_id, webhooks.provider, webhooks.config)  # type: ignore[arg-type]

    assert "call you back" in reply
    assert result is outreach.WorkResult.NOT_PENDING
    assert webhooks.provider.calls == []
    with session_scope(read_only=True) as session:
        referral = session.get_one(Referral, referral_id)
        assert (referral.status, referral.reached_by) == (ReferralStatus.REACHED, Channel.SMS)
        assert referral.reached_at == WEDNESDAY_10AM
        callback = session.scalars(select(CallbackRequest)).one()
        assert (callback.referral_id, callback.reason) == (referral_id, "sms_reply")
        states = session.execute(
            select(ContactAttempt.state, ContactAttempt.outcome).where(
                ContactAttempt.referral_id == referral_id
            )
        ).all()
    assert set(states) == {(AttemptState.FINAL, AttemptOutcome.CANCELED)}


def test_a_free_text_reply_counts_as_asking_for_a_call(webhooks: Webhooks) -> None:
    referral_id, mobile = patient_in_outreach()

    inbound(webhooks, mobile, "Can you ring me after 3 please")
    webhooks.run_enqueued()

    with session_scope(read_only=True) as session:
        assert session.get_one(Referral, referral_id).status is ReferralStatus.REACHED


def test_a_reply_from_a_number_shared_by_two_patients_is_never_guessed(
    webhooks: Webhooks,
) -> None:
    shared = drama_mobile(555)
    first, _ = patient_in_outreach(mobile_phone=shared)
    second, _ = patient_in_outreach(mobile_phone=shared)

    inbound(webhooks, shared, "CALL")
    webhooks.run_enqueued()

    with session_scope(read_only=True) as session:
        statuses = {session.get_one(Referral, rid).status for rid in (first, second)}
        callback = session.scalars(select(CallbackRequest)).one()
    assert statuses == {ReferralStatus.IN_OUTREACH}
    assert (callback.referral_id, callback.reason, callback.phone) == (
        None,
        "sms_reply_ambiguous",
        shared,
    )


def test_a_replayed_inbound_text_is_applied_once_and_not_answered_twice(
    webhooks: Webhooks,
) -> None:
    _referral_id, mobile = patient_in_outreach()

    first = inbound(webhooks, mobile, "CALL", message_sid="SM" + "c" * 32)
    again = inbound(webhooks, mobile, "CALL", message_sid="SM" + "c" * 32)
    webhooks.run_enqueued()

    assert "<Message>" in first
    assert "<Message>" not in again
    with session_scope(read_only=True) as session:
        assert len(session.scalars(select(CallbackRequest)).all()) == 1


def test_texts_from_a_landline_only_patients_mobile_are_acted_on_but_never_answered_by_text(
    webhooks: Webhooks,
) -> None:
    referral_id, mobile = patient_in_outreach(landline_phone="+441632960125", landline_only=True)

    with frozen_at(WEDNESDAY_10AM):
        stop_reply = inbound(webhooks, mobile, "STOP")
        help_reply = inbound(webhooks, mobile, "HELP")
        call_reply = inbound(webhooks, mobile, "CALL")
        webhooks.run_enqueued()

    for reply in (stop_reply, help_reply, call_reply):
        assert "<Message" not in reply
    with session_scope(read_only=True) as session:
        patient = session.scalars(select(Patient)).one()
        callback = session.scalars(select(CallbackRequest)).one()
        referral = session.get_one(Referral, referral_id)
    assert patient.sms_opted_out_at == WEDNESDAY_10AM  # STOP still recorded
    assert (referral.status, referral.reached_by) == (ReferralStatus.REACHED, Channel.SMS)
    assert (callback.referral_id, callback.reason) == (referral_id, "sms_reply")


def test_a_shared_mobile_still_gets_replies_unless_every_patient_on_it_is_landline_only(
    webhooks: Webhooks,
) -> None:
    mobile = drama_mobile(126)
    with session_scope() as session:
        create_patient(session, mobile_phone=mobile, landline_only=True)
        create_patient(session, mobile_phone=mobile)

    assert "<Message" in inbound(webhooks, mobile, "HELP")
