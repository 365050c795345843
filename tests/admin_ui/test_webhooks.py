"""Twilio webhooks: signed, stored once, answered at once, applied by a task."""

from __future__ import annotations

import uuid
from datetime import timedelta

from sqlalchemy import func, select
from twilio.request_validator import RequestValidator

from rmc_outreach import attempts, call_events, events, handlers
from rmc_outreach.clock import frozen_at
from rmc_outreach.db import session_scope
from rmc_outreach.models import (
    AttemptOutcome,
    AttemptState,
    AuditEvent,
    CallbackRequest,
    Channel,
    ContactAttempt,
    HandlerState,
    Handoff,
    Patient,
    ProviderEvent,
    Referral,
    ReferralStatus,
)
from tests.admin_ui.webhook_support import (  # noqa: F401 (the webhooks fixture)
    PUBLIC_BASE_URL,
    Webhooks,
    call_params,
    new_call_sid,
    webhooks_fixture,
)
from tests.engine.support import WEDNESDAY_10AM
from tests.factories import create_attempt, create_patient, create_referral


def sent_call(**patient_fields: object) -> tuple[uuid.UUID, str]:
    """A call attempt under way (sent, with its sid) for a referral in outreach."""
    call_sid = new_call_sid()
    with session_scope() as session:
        patient = create_patient(session, **patient_fields)
        referral = create_referral(
            session, patient=patient, status=ReferralStatus.IN_OUTREACH, journey_step=1
        )
        attempt = create_attempt(session, referral, state=AttemptState.SENT, provider_sid=call_sid)
        return attempt.id, call_sid


def stored_events() -> int:
    with session_scope(read_only=True) as session:
        return session.scalar(select(func.count()).select_from(ProviderEvent)) or 0


def load_attempt(attempt_id: uuid.UUID) -> ContactAttempt:
    with session_scope(read_only=True) as session:
        return attempts.get(session, attempt_id)


def referral_of(attempt_id: uuid.UUID) -> Referral:
    with session_scope(read_only=True) as session:
        attempt = attempts.get(session, attempt_id)
        return session.get_one(Referral, attempt.referral_id)


def test_the_signature_matches_twilios_published_test_vector() -> None:
    params = {
        "CallSid": "CA1234567890ABCDE",
        "Caller": "+14158675309",
        "Digits": "1234",
        "From": "+14158675309",
        "To": "+18005551212",
    }
    url = "https://mycompany.com/myapp.php?foo=1&bar=2"

    signature = RequestValidator("12345").compute_signature(url, params)

    assert signature == "RSOYDt4T1cUTdK1PDd93/VVr8B8="
    assert RequestValidator("12345").validate(url, params, signature)
    assert not RequestValidator("54321").validate(url, params, signature)


def test_a_forged_signature_gets_403_and_nothing_is_written(webhooks: Webhooks) -> None:
    attempt_id, call_sid = sent_call()
    path = f"/twilio/voice/{attempt_id}/status"
    params = call_params(call_sid, CallStatus="completed", SequenceNumber="3")

    forged = webhooks.client.post(path, data=params, headers={"X-Twilio-Signature": "Zm9yZ2Vk"})
    unsigned = webhooks.client.post(path, data=params)
    wrong_token = webhooks.client.post(
        path,
        data=params,
        headers={
            "X-Twilio-Signature": RequestValidator("not-our-token").compute_signature(
                PUBLIC_BASE_URL + path, params
            )
        },
    )

    assert [forged.status_code, unsigned.status_code, wrong_token.status_code] == [403] * 3
    assert stored_events() == 0
    assert webhooks.enqueued == []
    assert load_attempt(attempt_id).state is AttemptState.SENT


def test_a_signature_over_the_host_the_client_sent_is_refused(webhooks: Webhooks) -> None:
    attempt_id, call_sid = sent_call()
    path = f"/twilio/voice/{attempt_id}/status"
    params = call_params(call_sid, CallStatus="ringing", SequenceNumber="1")

    response = webhooks.post(path, params, signed_url="http://localhost" + path)

    assert response.status_code == 403
    assert stored_events() == 0


def test_a_forged_stop_opts_nobody_out(webhooks: Webhooks) -> None:
    with session_scope() as session:
        mobile = create_patient(session).mobile_phone
    params = {"MessageSid": "SM" + "a" * 32, "From": mobile or "", "Body": "STOP"}

    response = webhooks.client.post(
        "/twilio/sms/inbound", data=params, headers={"X-Twilio-Signature": "Zm9yZ2Vk"}
    )

    assert response.status_code == 403
    assert stored_events() == 0
    with session_scope(read_only=True) as session:
        assert session.scalars(select(Patient.sms_opted_out_at)).one() is None


def test_a_replayed_callback_is_stored_and_applied_once(webhooks: Webhooks) -> None:
    attempt_id, call_sid = sent_call()
    path = f"/twilio/voice/{attempt_id}/status"
    params = call_params(call_sid, CallStatus="busy", SequenceNumber="2")

    responses = [webhooks.post(path, params) for _ in range(3)]
    ran = webhooks.run_enqueued()

    assert [response.status_code for response in responses] == [204] * 3
    assert stored_events() == 1
    assert ran == 1
    attempt = load_attempt(attempt_id)
    assert (attempt.state, attempt.outcome) == (AttemptState.FINAL, AttemptOutcome.BUSY)


def test_with_nobody_signed_in_key_1_asks_for_a_call_back_and_nobody_waits(
    webhooks: Webhooks,
) -> None:
    attempt_id, call_sid = sent_call()
    voice = f"/twilio/voice/{attempt_id}"

    greeting = webhooks.post(f"{voice}/answer", call_params(call_sid)).get_data(as_text=True)
    signed_in_handler()  # signs in meanwhile: the patient still gets what they were offered
    choice = webhooks.post(
        f"{voice}/choice?round=1&offer=call_back", call_params(call_sid, Digits="1")
    )
    webhooks.post(
        f"{voice}/status",
        call_params(call_sid, CallStatus="completed", SequenceNumber="0", CallDuration="25"),
    )
    webhooks.run_enqueued()

    assert "call you back, press 1" in greeting and "speak to the booking team" not in greeting
    assert f"/twilio/voice/{attempt_id}/choice?round=1&amp;offer=call_back" in greeting
    said = choice.get_data(as_text=True)
    assert "will call you back" in said and "<Enqueue" not in said
    with session_scope(read_only=True) as session:
        handoffs = session.scalars(select(Handoff)).all()
        callback = session.scalars(select(CallbackRequest)).one()
    assert handoffs == []  # nobody waited for a handler, so no call was abandoned
    assert (callback.reason, callback.phone) == (
        "ivr_callback",
        load_attempt(attempt_id).destination,
    )
    referral = referral_of(attempt_id)
    assert (referral.status, referral.reached_by) == (ReferralStatus.REACHED, Channel.CALL)


def test_a_call_started_with_nobody_signed_in_offers_a_call_back_whoever_signs_in(
    webhooks: Webhooks,
) -> None:
    signed_in_handler(HandlerState.AVAILABLE)  # signed in after the call was dispatched
    attempt_id, call_sid = sent_call()

    answer = webhooks.post(
        f"/twilio/voice/{attempt_id}/answer?offer=call_back", call_params(call_sid)
    )

    body = answer.get_data(as_text=True)
    assert "call you back, press 1" in body and "offer=call_back" in body


def test_with_a_handler_signed_in_key_1_offers_the_booking_team_now(webhooks: Webhooks) -> None:
    signed_in_handler(HandlerState.AVAILABLE)
    attempt_id, call_sid = sent_call()

    answer = webhooks.post(f"/twilio/voice/{attempt_id}/answer", call_params(call_sid))

    assert "speak to the booking team now, press 1" in answer.get_data(as_text=True)


def test_facts_that_decide_nothing_wait_and_are_applied_with_the_final_status_in_order(
    webhooks: Webhooks,
) -> None:
    attempt_id, call_sid = sent_call()
    voice = f"/twilio/voice/{attempt_id}"

    with frozen_at(WEDNESDAY_10AM):
        webhooks.post(f"{voice}/answer", call_params(call_sid))
    with frozen_at(WEDNESDAY_10AM + timedelta(seconds=3)):
        webhooks.post(f"{voice}/amd", call_params(call_sid, AnsweredBy="human"))
    waiting = (len(webhooks.enqueued), stored_events())
    with frozen_at(WEDNESDAY_10AM + timedelta(seconds=40)):
        webhooks.post(
            f"{voice}/status",
            call_params(call_sid, CallStatus="completed", SequenceNumber="0", CallDuration="40"),
        )
    ran = webhooks.run_enqueued()

    assert waiting == (0, 2)  # stored, no task of their own
    assert ran == 1  # one task applied all three, in the order received
    with session_scope(read_only=True) as session:
        unapplied = session.scalars(
            select(ProviderEvent.id).where(ProviderEvent.processed_at.is_(None))
        ).all()
    attempt = load_attempt(attempt_id)
    assert unapplied == []
    assert attempt.answered_at == WEDNESDAY_10AM
    assert attempt.answered_by == "human"
    assert attempt.duration_seconds == 40
    assert (attempt.state, attempt.outcome) == (AttemptState.FINAL, AttemptOutcome.NO_ANSWER)


def test_a_duplicate_task_for_an_applied_callback_leaves_later_callbacks_to_their_own(
    webhooks: Webhooks,
) -> None:
    # A redelivered task (acks late: its worker died after committing) must not take a later
    # callback of the same attempt and drop it.
    attempt_id, call_sid = sent_call()
    voice = f"/twilio/voice/{attempt_id}"
    webhooks.post(f"{voice}/choice?round=1", call_params(call_sid, Digits="3"))
    choice_task = list(webhooks.enqueued)
    webhooks.run_enqueued()
    webhooks.post(
        f"{voice}/status",
        call_params(call_sid, CallStatus="completed", SequenceNumber="0", CallDuration="30"),
    )
    webhooks.enqueued[:0] = choice_task  # the duplicate runs before the new callback's task
    webhooks.run_enqueued()

    attempt = load_attempt(attempt_id)
    assert (attempt.state, attempt.outcome) == (AttemptState.FINAL, AttemptOutcome.IVR_CHOICE)
    assert attempt.provider_status == "completed"


def test_a_machine_answer_is_applied_at_once_so_the_voicemail_follows_the_beep(
    webhooks: Webhooks,
) -> None:
    attempt_id, call_sid = sent_call()
    webhooks.post(f"/twilio/voice/{attempt_id}/answer", call_params(call_sid))
    webhooks.post(
        f"/twilio/voice/{attempt_id}/amd", call_params(call_sid, AnsweredBy="machine_end_beep")
    )

    assert [name for name, _args in webhooks.enqueued] == ["apply-provider-event"]


def test_answering_plays_the_greeting_and_options_in_en_gb_with_the_attempt_in_the_action(
    webhooks: Webhooks,
) -> None:
    attempt_id, call_sid = sent_call()

    response = webhooks.post(f"/twilio/voice/{attempt_id}/answer", call_params(call_sid))

    body = response.get_data(as_text=True)
    assert response.status_code == 200
    assert response.mimetype == "application/xml"
    assert 'language="en-GB"' in body
    assert "<Gather" in body and f"/twilio/voice/{attempt_id}/choice?round=1" in body
    assert "press 1" in body


def signed_in_handler(state: HandlerState = HandlerState.AWAY) -> int:
    """A handler signed in (by default away: signed in, but takes no call)."""
    with session_scope() as session:
        handler = handlers.create_handler(session, None, "Handler A", "client:handler_a")
        handlers.change_state(session, handler.id, HandlerState.AVAILABLE)
        if state is not HandlerState.AVAILABLE:
            handlers.change_state(session, handler.id, state)
        return handler.id


def test_pressing_1_queues_for_the_team_and_an_unanswered_wait_ends_in_a_callback(
    webhooks: Webhooks,
) -> None:
    signed_in_handler()
    attempt_id, call_sid = sent_call()
    base = f"/twilio/voice/{attempt_id}"
    with frozen_at(WEDNESDAY_10AM):
        choice = webhooks.post(f"{base}/choice?round=1", call_params(call_sid, Digits="1"))
        webhooks.run_enqueued()
        with session_scope(read_only=True) as session:
            handoff_id = session.scalars(select(Handoff.id)).one()
        wait = f"/twilio/handoff/{handoff_id}/wait"
        early = webhooks.post(wait, call_params(call_sid, QueueTime="20"))
    with frozen_at(WEDNESDAY_10AM + timedelta(seconds=61)):
        late = webhooks.post(wait, call_params(call_sid, QueueTime="61"))
        result = webhooks.post(
            f"/twilio/handoff/{handoff_id}/result",
            call_params(call_sid, QueueResult="leave", QueueTime="61"),
        )
        webhooks.run_enqueued()

    assert f">handoff-{handoff_id}</Enqueue>" in choice.get_data(as_text=True)
    assert "<Pause" in early.get_data(as_text=True)
    assert "<Leave" not in early.get_data(as_text=True)
    assert "<Leave" in late.get_data(as_text=True)
    assert "nobody from the booking team is free" in result.get_data(as_text=True)
    referral = referral_of(attempt_id)
    assert (referral.status, referral.reached_by) == (ReferralStatus.REACHED, Channel.CALL)
    with session_scope(read_only=True) as session:
        handoff = session.scalars(select(Handoff)).one()
        callback = session.scalars(select(CallbackRequest)).one()
    assert handoff.attempt_id == attempt_id and handoff.abandoned
    assert (callback.referral_id, callback.reason) == (referral.id, "no_handler")


def test_pressing_2_says_a_text_is_coming_and_sends_the_how_to_book_sms(
    webhooks: Webhooks,
) -> None:
    attempt_id, call_sid = sent_call()
    with frozen_at(WEDNESDAY_10AM):
        response = webhooks.post(
            f"/twilio/voice/{attempt_id}/choice?round=1", call_params(call_sid, Digits="2")
        )
        webhooks.run_enqueued()

    assert "text message" in response.get_data(as_text=True)
    (message,) = webhooks.provider.messages
    assert "to book your appointment" in message.body
    assert referral_of(attempt_id).status is ReferralStatus.REACHED


def test_pressing_2_without_a_mobile_says_the_number_instead_and_sends_nothing(
    webhooks: Webhooks,
) -> None:
    attempt_id, call_sid = sent_call(mobile_phone=None, landline_phone="+441632960123", no_sms=True)
    with frozen_at(WEDNESDAY_10AM):
        response = webhooks.post(
            f"/twilio/voice/{attempt_id}/choice?round=1", call_params(call_sid, Digits="2")
        )
        webhooks.run_enqueued()

    body = response.get_data(as_text=True)
    assert "cannot send you a text" in body
    assert webhooks.config.public_context.booking_number_spoken in body
    assert webhooks.provider.messages == []


def landline_call(**patient_fields: object) -> tuple[uuid.UUID, str]:
    """A call under way to the landline of a landline-only patient who also has a mobile."""
    call_sid = new_call_sid()
    with session_scope() as session:
        patient = create_patient(
            session, landline_phone="+441632960124", landline_only=True, **patient_fields
        )
        referral = create_referral(
            session, patient=patient, status=ReferralStatus.IN_OUTREACH, journey_step=1
        )
        attempt = create_attempt(
            session,
            referral,
            state=AttemptState.SENT,
            provider_sid=call_sid,
            destination=patient.landline_phone,
        )
        return attempt.id, call_sid


def test_pressing_2_as_a_landline_only_patient_says_the_number_and_texts_nothing(
    webhooks: Webhooks,
) -> None:
    attempt_id, call_sid = landline_call()
    with frozen_at(WEDNESDAY_10AM):
        response = webhooks.post(
            f"/twilio/voice/{attempt_id}/choice?round=1", call_params(call_sid, Digits="2")
        )
        webhooks.run_enqueued()

    body = response.get_data(as_text=True)
    assert "cannot send you a text" in body
    assert "We will send you a text" not in body
    assert webhooks.config.public_context.booking_number_spoken in body
    assert webhooks.provider.messages == []
    referral = referral_of(attempt_id)
    assert (referral.status, referral.reached_by) == (ReferralStatus.REACHED, Channel.CALL)
    with session_scope(read_only=True) as session:
        channels = session.scalars(
            select(ContactAttempt.channel).where(ContactAttempt.referral_id == referral.id)
        ).all()
    assert channels == [Channel.CALL]  # no how-to-book text was even created


def test_a_machine_on_a_landline_only_patients_landline_gets_the_voicemail_unless_they_said_no(
    webhooks: Webhooks,
) -> None:
    allowed_id, allowed_sid = landline_call()
    refused_id, refused_sid = landline_call(no_voicemail=True)
    for attempt_id, call_sid in ((allowed_id, allowed_sid), (refused_id, refused_sid)):
        webhooks.post(
            f"/twilio/voice/{attempt_id}/amd",
            call_params(call_sid, AnsweredBy="machine_end_beep"),
        )
        webhooks.run_enqueued()

    updates = dict(webhooks.provider.twiml_updates)
    assert webhooks.config.public_context.booking_number_spoken in updates[allowed_sid]
    assert "<Say" not in updates[refused_sid] and "<Hangup" in updates[refused_sid]
    assert load_attempt(allowed_id).voicemail_at is not None
    assert load_attempt(refused_id).voicemail_at is None


def test_pressing_3_declines_the_referral_and_stops_every_channel(webhooks: Webhooks) -> None:
    attempt_id, call_sid = sent_call()
    with session_scope() as session:
        referral_id = attempts.get(session, attempt_id).referral_id
        waiting_text = create_attempt(
            session, session.get_one(Referral, referral_id), channel=Channel.SMS, step=2
        ).id
    response = webhooks.post(
        f"/twilio/voice/{attempt_id}/choice?round=1", call_params(call_sid, Digits="3")
    )
    webhooks.run_enqueued()

    assert "Thank you for letting us know" in response.get_data(as_text=True)
    assert referral_of(attempt_id).status is ReferralStatus.DECLINED
    cancelled = load_attempt(waiting_text)
    assert (cancelled.state, cancelled.outcome) == (AttemptState.FINAL, AttemptOutcome.CANCELED)


def test_no_key_pressed_repeats_the_options_then_says_goodbye(webhooks: Webhooks) -> None:
    attempt_id, call_sid = sent_call()
    base = f"/twilio/voice/{attempt_id}/choice"

    second = webhooks.post(f"{base}?round=1", call_params(call_sid, Digits=""))
    last = webhooks.post(f"{base}?round=2", call_params(call_sid, Digits="9"))

    assert "choice?round=2" in second.get_data(as_text=True)
    assert "<Gather" not in last.get_data(as_text=True)
    assert "<Hangup" in last.get_data(as_text=True)
    assert referral_of(attempt_id).status is ReferralStatus.IN_OUTREACH
    # Options read again decide nothing: no task of their own, applied with the final status.
    assert webhooks.enqueued == []
    webhooks.post(
        f"/twilio/voice/{attempt_id}/status",
        call_params(call_sid, CallStatus="completed", SequenceNumber="0", CallDuration="50"),
    )
    assert webhooks.run_enqueued() == 1
    with session_scope(read_only=True) as session:
        unapplied = session.scalars(
            select(ProviderEvent.id).where(ProviderEvent.processed_at.is_(None))
        ).all()
    assert unapplied == []
    assert load_attempt(attempt_id).outcome is AttemptOutcome.NO_ANSWER


def test_a_machine_gets_the_voicemail_and_the_call_ends_as_voicemail_left(
    webhooks: Webhooks,
) -> None:
    attempt_id, call_sid = sent_call()
    base = f"/twilio/voice/{attempt_id}"
    webhooks.post(f"{base}/amd", call_params(call_sid, AnsweredBy="machine_end_beep"))
    webhooks.run_enqueued()
    webhooks.post(
        f"{base}/status",
        call_params(call_sid, CallStatus="completed", SequenceNumber="4", CallDuration="31"),
    )
    webhooks.run_enqueued()

    ((updated_sid, twiml),) = webhooks.provider.twiml_updates
    assert updated_sid == call_sid
    assert webhooks.config.public_context.booking_number_spoken in twiml
    attempt = load_attempt(attempt_id)
    assert (attempt.state, attempt.outcome) == (AttemptState.FINAL, AttemptOutcome.VOICEMAIL_LEFT)
    assert (attempt.answered_by, attempt.duration_seconds) == ("machine_end_beep", 31)


def test_a_machine_for_a_patient_who_wants_no_voicemail_is_hung_up_on(
    webhooks: Webhooks,
) -> None:
    attempt_id, call_sid = sent_call(no_voicemail=True)
    base = f"/twilio/voice/{attempt_id}"
    webhooks.post(f"{base}/amd", call_params(call_sid, AnsweredBy="machine_end_silence"))
    webhooks.post(
        f"{base}/status", call_params(call_sid, CallStatus="completed", SequenceNumber="4")
    )
    webhooks.run_enqueued()

    ((_sid, twiml),) = webhooks.provider.twiml_updates
    assert "<Say" not in twiml and "<Hangup" in twiml
    assert load_attempt(attempt_id).outcome is AttemptOutcome.MACHINE_NO_MESSAGE


def test_an_sms_delivery_report_finishes_the_text_attempt(webhooks: Webhooks) -> None:
    with session_scope() as session:
        referral = create_referral(session, status=ReferralStatus.IN_OUTREACH)
        attempt_id = create_attempt(
            session, referral, channel=Channel.SMS, state=AttemptState.SENT
        ).id
    params = {"MessageSid": "SM" + "b" * 32, "MessageStatus": "delivered", "AccountSid": "AC1"}

    response = webhooks.post(f"/twilio/sms/{attempt_id}/status", params)
    webhooks.run_enqueued()

    assert response.status_code == 204
    attempt = load_attempt(attempt_id)
    assert (attempt.state, attempt.outcome) == (AttemptState.FINAL, AttemptOutcome.DELIVERED)


def test_a_21610_delivery_report_records_and_audits_our_own_opt_out(webhooks: Webhooks) -> None:
    with session_scope() as session:
        referral = create_referral(session, status=ReferralStatus.IN_OUTREACH)
        attempt_id = create_attempt(
            session, referral, channel=Channel.SMS, state=AttemptState.SENT
        ).id
        patient_id = referral.patient_id
    params = {
        "MessageSid": "SM" + "c" * 32,
        "MessageStatus": "undelivered",
        "ErrorCode": "21610",
        "AccountSid": "AC1",
    }

    with frozen_at(WEDNESDAY_10AM):
        webhooks.post(f"/twilio/sms/{attempt_id}/status", params)
        webhooks.run_enqueued()

    with session_scope(read_only=True) as session:
        patient = session.get_one(Patient, patient_id)
        audited = session.execute(
            select(AuditEvent.actor_label, AuditEvent.action, AuditEvent.object_id)
        ).all()
    assert (patient.sms_opted_out_at, patient.sms_opt_out_source) == (
        WEDNESDAY_10AM,
        "provider_21610",
    )
    assert audited == [("twilio opt-out list", "sms_opt_out", str(patient_id))]
    attempt = load_attempt(attempt_id)
    assert (attempt.outcome, attempt.error_reason) == (
        AttemptOutcome.UNDELIVERED,
        "provider_error_21610",
    )


def test_a_callback_for_an_unknown_attempt_stores_nothing(webhooks: Webhooks) -> None:
    response = webhooks.post(
        f"/twilio/voice/{uuid.uuid4()}/status",
        call_params(new_call_sid(), CallStatus="completed", SequenceNumber="4"),
    )

    assert response.status_code == 204
    assert stored_events() == 0


def test_a_person_who_pressed_a_key_is_never_sent_the_voicemail_when_detection_said_machine(
    webhooks: Webhooks,
) -> None:
    """Detection's "machine" and the person's key press stored before either task ran: both
    are applied together, and only a person presses a key."""
    signed_in_handler(HandlerState.AVAILABLE)
    attempt_id, call_sid = sent_call()
    voice = f"/twilio/voice/{attempt_id}"
    webhooks.post(f"{voice}/amd", call_params(call_sid, AnsweredBy="machine_end_beep"))
    webhooks.post(f"{voice}/choice?round=1", call_params(call_sid, Digits="1"))
    webhooks.run_enqueued()

    assert call_sid not in dict(webhooks.provider.twiml_updates)  # not redirected to voicemail
    attempt = load_attempt(attempt_id)
    assert (attempt.keypad_choice, attempt.voicemail_at) == ("1", None)


def test_a_key_pressed_after_the_machine_answer_was_applied_still_stops_the_voicemail(
    webhooks: Webhooks,
) -> None:
    """The key press is stored while the worker is between applying "machine" and redirecting
    the call: the redirect looks for a stored key press first."""
    attempt_id, call_sid = sent_call()
    voice = f"/twilio/voice/{attempt_id}"
    webhooks.post(f"{voice}/amd", call_params(call_sid, AnsweredBy="machine_end_beep"))
    _name, args = webhooks.enqueued.pop(0)
    follow_ups, applied = events.apply_event(int(args[0]))
    assert applied and [m.call_sid for m in follow_ups.machine_answers] == [call_sid]
    webhooks.post(f"{voice}/choice?round=1", call_params(call_sid, Digits="2"))

    redirected = call_events.answer_machines(follow_ups, webhooks.provider, webhooks.config)

    assert redirected == 0
    assert webhooks.provider.twiml_updates == []
