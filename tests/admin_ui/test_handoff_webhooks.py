"""The ACD through its webhooks: patients queued in their own queue, offered to handlers in our
order, bridged, or (nobody in time, hang-up, callback choice) given a callback request."""

from __future__ import annotations

import dataclasses
import itertools
import uuid
from datetime import datetime, timedelta

import pytest
from sqlalchemy import func, select

from admin_ui.webhooks import APPLY_PROVIDER_EVENT
from rmc_outreach import acd, handlers, reconcile
from rmc_outreach.acd.connect import OFFER_NEWS_GRACE
from rmc_outreach.clock import frozen_at
from rmc_outreach.db import session_scope
from rmc_outreach.models import (
    AttemptState,
    CallbackRequest,
    Handler,
    HandlerState,
    Handoff,
    HandoffOffer,
    ProviderEvent,
    Referral,
    ReferralStatus,
)
from rmc_outreach.telephony.handoff_twiml import HANDLER_RING_TIMEOUT_S
from tests.admin_ui.webhook_support import (  # noqa: F401 (the webhooks fixture)
    Webhooks,
    call_params,
    new_call_sid,
    webhooks_fixture,
)
from tests.engine.support import WEDNESDAY_10AM, WEDNESDAY_EVENING
from tests.factories import create_attempt, create_patient, create_referral

S = HandlerState
UBRN_PREFIXES = itertools.count(55_000_000)
T0 = WEDNESDAY_10AM


@pytest.fixture(autouse=True)
def someone_signed_in(webhooks: Webhooks) -> None:
    """A supervisor signed in but away: key 1 offers the booking team now (with nobody signed
    in it offers a call back instead), and the ACD never offers a patient to them."""
    with frozen_at(T0 - timedelta(hours=3)), session_scope() as session:
        standby = handlers.create_handler(session, None, "Standby", "client:standby")
        handlers.change_state(session, standby.id, S.AVAILABLE)
        handlers.change_state(session, standby.id, S.AWAY)


def new_handler(name: str, available_at: datetime | None = None) -> int:
    """A handler (offline), made available at ``available_at`` when given."""
    with frozen_at(T0 - timedelta(hours=2)), session_scope() as session:
        handler_id = handlers.create_handler(
            session, None, name, f"client:{name.replace(' ', '_')}"
        ).id
    if available_at is not None:
        with frozen_at(available_at), session_scope() as session:
            handlers.change_state(session, handler_id, S.AVAILABLE)
    return handler_id


def queue_outbound_patient(webhooks: Webhooks, at: datetime) -> tuple[int, str]:
    """A patient on an outbound call presses 1 at ``at``; returns (handoff id, call sid)."""
    call_sid = new_call_sid()
    with session_scope() as session:
        referral = create_referral(
            session,
            status=ReferralStatus.IN_OUTREACH,
            journey_step=1,
            ubrn=f"{next(UBRN_PREFIXES):08d}1234",
        )
        attempt_id = create_attempt(
            session, referral, state=AttemptState.SENT, provider_sid=call_sid
        ).id
    with frozen_at(at):
        response = webhooks.post(
            f"/twilio/voice/{attempt_id}/choice?round=1", call_params(call_sid, Digits="1")
        )
        webhooks.run_enqueued()
    with session_scope(read_only=True) as session:
        handoff_id = session.scalars(
            select(Handoff.id).where(Handoff.attempt_id == attempt_id)
        ).one()
    assert f">handoff-{handoff_id}</Enqueue>" in response.get_data(as_text=True)
    assert f"/twilio/handoff/{handoff_id}/result" in response.get_data(as_text=True)
    return handoff_id, call_sid


def offers() -> list[tuple[int, int, str | None]]:
    """(handoff, handler, result) of every offer, in the order made."""
    with session_scope(read_only=True) as session:
        rows = session.execute(
            select(HandoffOffer.handoff_id, HandoffOffer.handler_id, HandoffOffer.result).order_by(
                HandoffOffer.id
            )
        ).all()
    return [tuple(row) for row in rows]  # type: ignore[misc]


def offer_id_for(handoff_id: int, handler_id: int) -> int:
    with session_scope(read_only=True) as session:
        return session.scalars(
            select(HandoffOffer.id).where(
                HandoffOffer.handoff_id == handoff_id, HandoffOffer.handler_id == handler_id
            )
        ).one()


def handler_state(handler_id: int) -> HandlerState:
    with session_scope(read_only=True) as session:
        return session.get_one(Handler, handler_id).state


def spell_states(handler_id: int) -> list[HandlerState]:
    with session_scope(read_only=True) as session:
        return [spell.state for spell in handlers.spells(session, handler_id)]


def load_handoff(handoff_id: int) -> Handoff:
    with session_scope(read_only=True) as session:
        return session.get_one(Handoff, handoff_id)


def callbacks() -> list[CallbackRequest]:
    with session_scope(read_only=True) as session:
        return list(session.scalars(select(CallbackRequest).order_by(CallbackRequest.id)))


def test_the_longest_waiting_patient_goes_to_the_longest_idle_handler(
    webhooks: Webhooks,
) -> None:
    first, _ = queue_outbound_patient(webhooks, T0)
    second, _ = queue_outbound_patient(webhooks, T0 + timedelta(seconds=5))
    recent = new_handler("Recent", available_at=T0 - timedelta(minutes=1))
    longest_idle = new_handler("Longest idle", available_at=T0 - timedelta(minutes=30))
    middle = new_handler("Middle", available_at=T0 - timedelta(minutes=10))

    with frozen_at(T0 + timedelta(seconds=6)):
        rung = acd.connect_waiting(webhooks.config, webhooks.provider)

    assert rung == 2
    assert offers() == [(first, longest_idle, None), (second, middle, None)]
    assert [call.to for call in webhooks.provider.handler_calls] == [
        "client:Longest_idle",
        "client:Middle",
    ]
    assert (handler_state(longest_idle), handler_state(middle)) == (S.RINGING, S.RINGING)
    assert handler_state(recent) is S.AVAILABLE
    request = webhooks.provider.handler_calls[0]
    offer_id = offer_id_for(first, longest_idle)
    assert request.answer_url.endswith(f"/twilio/offer/{offer_id}/answer")
    assert request.status_callback_url.endswith(f"/twilio/offer/{offer_id}/status")
    with session_scope(read_only=True) as session:
        sids = session.scalars(select(HandoffOffer.call_sid)).all()
    assert all(sid and sid.startswith("CA") for sid in sids)


def test_a_handler_who_does_not_answer_is_made_away_and_the_next_handler_is_offered(
    webhooks: Webhooks,
) -> None:
    handoff_id, _ = queue_outbound_patient(webhooks, T0)
    first = new_handler("First", available_at=T0 - timedelta(minutes=20))
    second = new_handler("Second", available_at=T0 - timedelta(minutes=5))
    with frozen_at(T0 + timedelta(seconds=1)):
        acd.connect_waiting(webhooks.config, webhooks.provider)
    offer_id = offer_id_for(handoff_id, first)

    with frozen_at(T0 + timedelta(seconds=21)):
        response = webhooks.post(
            f"/twilio/offer/{offer_id}/status",
            call_params(new_call_sid(), CallStatus="no-answer", Direction="outbound-api"),
        )
        webhooks.run_enqueued()

    assert response.status_code == 204
    assert offers() == [(handoff_id, first, "no-answer"), (handoff_id, second, None)]
    assert handler_state(first) is S.AWAY
    assert spell_states(first) == [S.OFFLINE, S.AVAILABLE, S.RINGING, S.AVAILABLE, S.AWAY]
    assert handler_state(second) is S.RINGING


def test_a_ring_whose_status_callback_was_lost_is_taken_as_unanswered_and_the_next_is_offered(
    webhooks: Webhooks,
) -> None:
    handoff_id, _ = queue_outbound_patient(webhooks, T0)
    first = new_handler("Silent", available_at=T0 - timedelta(minutes=20))
    second = new_handler("Next", available_at=T0 - timedelta(minutes=5))
    with frozen_at(T0 + timedelta(seconds=1)):
        acd.connect_waiting(webhooks.config, webhooks.provider)
    # Within the ring timeout and its grace nothing is assumed.
    limit = timedelta(seconds=HANDLER_RING_TIMEOUT_S) + OFFER_NEWS_GRACE
    with frozen_at(T0 + timedelta(seconds=1) + limit - timedelta(seconds=1)):
        acd.connect_waiting(webhooks.config, webhooks.provider)
    assert offers() == [(handoff_id, first, None)]

    with frozen_at(T0 + timedelta(seconds=2) + limit):
        acd.connect_waiting(webhooks.config, webhooks.provider)

    assert offers() == [(handoff_id, first, "no-answer"), (handoff_id, second, None)]
    assert handler_state(first) is S.AWAY
    assert handler_state(second) is S.RINGING
    assert load_handoff(handoff_id).ended_at is None  # still waiting, for the next handler


def test_a_handler_back_at_the_desk_before_the_missed_ring_is_applied_stays_available(
    webhooks: Webhooks,
) -> None:
    """The missed ring's news is applied after the handler chose "available" again themselves:
    their own later choice stands (they were left away for good before)."""
    handoff_id, _ = queue_outbound_patient(webhooks, T0)
    handler_id = new_handler("Back", available_at=T0 - timedelta(minutes=20))
    with frozen_at(T0 + timedelta(seconds=1)):
        acd.connect_waiting(webhooks.config, webhooks.provider)
    offer_id = offer_id_for(handoff_id, handler_id)
    with frozen_at(T0 + timedelta(seconds=40)), session_scope() as session:
        handlers.change_state(session, handler_id, S.AVAILABLE)

    with frozen_at(T0 + timedelta(seconds=45)):
        webhooks.post(
            f"/twilio/offer/{offer_id}/status",
            call_params(new_call_sid(), CallStatus="no-answer", Direction="outbound-api"),
        )
        webhooks.run_enqueued()

    assert offers()[0] == (handoff_id, handler_id, "no-answer")
    assert S.AWAY not in spell_states(handler_id)
    assert handler_state(handler_id) is S.AVAILABLE


def test_answer_whisper_bridge_and_end_record_every_handler_state_change(
    webhooks: Webhooks,
) -> None:
    handoff_id, patient_sid = queue_outbound_patient(webhooks, T0)
    handler_id = new_handler("Bridger", available_at=T0 - timedelta(minutes=3))
    with frozen_at(T0 + timedelta(seconds=1)):
        acd.connect_waiting(webhooks.config, webhooks.provider)
    offer_id = offer_id_for(handoff_id, handler_id)
    handler_sid = new_call_sid()

    with frozen_at(T0 + timedelta(seconds=8)):
        answer = webhooks.post(f"/twilio/offer/{offer_id}/answer", call_params(handler_sid))
        bridged = webhooks.post(f"/twilio/offer/{offer_id}/bridged", call_params(patient_sid))
        webhooks.run_enqueued()
    connected = load_handoff(handoff_id)
    state_while_talking = handler_state(handler_id)
    paced_before_the_end = list(webhooks.paced)
    with frozen_at(T0 + timedelta(seconds=200)):
        dial_end = webhooks.post(
            f"/twilio/offer/{offer_id}/dial-end",
            call_params(handler_sid, DialCallStatus="completed", DialCallDuration="190"),
        )
        result = webhooks.post(
            f"/twilio/handoff/{handoff_id}/result",
            call_params(patient_sid, QueueResult="bridged", QueueTime="8"),
        )
        webhooks.post(
            f"/twilio/offer/{offer_id}/status", call_params(handler_sid, CallStatus="completed")
        )
        webhooks.run_enqueued()

    whisper = answer.get_data(as_text=True)
    assert "Booking call: referral ending 1 2 3 4, routine" in whisper
    assert (
        f'<Queue method="POST" url="https://outreach.example.nhs.uk/twilio/offer/{offer_id}/bridged">handoff-{handoff_id}</Queue>'
        in whisper
    )
    assert f"/twilio/offer/{offer_id}/dial-end" in whisper
    assert bridged.status_code == 200 and "<Say" not in bridged.get_data(as_text=True)
    assert "<Hangup" in dial_end.get_data(as_text=True)
    assert "<Hangup" in result.get_data(as_text=True)
    assert (connected.connected_at, connected.handler_id) == (T0 + timedelta(seconds=8), handler_id)
    assert state_while_talking is S.ON_CALL
    ended = load_handoff(handoff_id)
    assert (ended.ended_at, ended.ended_reason, ended.talk_seconds, ended.abandoned) == (
        T0 + timedelta(seconds=200),
        "bridged_done",
        190,
        False,
    )
    assert offers() == [(handoff_id, handler_id, "bridged")]
    assert spell_states(handler_id) == [S.OFFLINE, S.AVAILABLE, S.RINGING, S.ON_CALL, S.WRAP_UP]
    assert callbacks() == []
    # The end of the handler's call (into wrap-up, free soon for pacing) kicks dispatch once.
    assert webhooks.paced == [*paced_before_the_end, "offer-dial-end"]


def test_the_wait_url_says_the_patients_place_and_offers_a_callback(webhooks: Webhooks) -> None:
    first, first_sid = queue_outbound_patient(webhooks, T0)
    second, second_sid = queue_outbound_patient(webhooks, T0 + timedelta(seconds=3))

    with frozen_at(T0 + timedelta(seconds=10)):
        ahead = webhooks.post(
            f"/twilio/handoff/{first}/wait", call_params(first_sid, QueueTime="10")
        )
        behind = webhooks.post(
            f"/twilio/handoff/{second}/wait", call_params(second_sid, QueueTime="7")
        )

    assert "You are next in the queue." in ahead.get_data(as_text=True)
    body = behind.get_data(as_text=True)
    assert "You are number 2 in the queue." in body
    assert "press 1" in body and f"/twilio/handoff/{second}/wait-choice" in body
    assert "<Pause" in body and "<Leave" not in body


def test_nobody_in_time_leaves_the_queue_plays_the_information_message_and_asks_for_a_callback(
    webhooks: Webhooks,
) -> None:
    handoff_id, call_sid = queue_outbound_patient(webhooks, T0)
    busy = new_handler("Busy")  # offline: nobody can take the call

    with frozen_at(T0 + timedelta(seconds=60)):
        late = webhooks.post(
            f"/twilio/handoff/{handoff_id}/wait", call_params(call_sid, QueueTime="60")
        )
        again = webhooks.post(
            f"/twilio/handoff/{handoff_id}/wait", call_params(call_sid, QueueTime="60")
        )
        result = webhooks.post(
            f"/twilio/handoff/{handoff_id}/result",
            call_params(call_sid, QueueResult="leave", QueueTime="60"),
        )
        webhooks.run_enqueued()

    assert "<Leave" in late.get_data(as_text=True)
    # Asked again (the first answer lost on the way?), the patient still leaves rather than being
    # kept in silence; nothing more is stored.
    assert "<Leave" in again.get_data(as_text=True)
    with session_scope(read_only=True) as session:
        kinds = session.scalars(select(ProviderEvent.kind)).all()
    assert kinds.count("handoff-leave") == 1
    words = result.get_data(as_text=True)
    assert "<Say" in words and "NHS referral booking service" in words and "<Hangup" in words
    handoff = load_handoff(handoff_id)
    assert (handoff.abandoned, handoff.ended_reason) == (True, "abandoned_timeout")
    (callback,) = callbacks()
    assert (callback.referral_id, callback.reason) == (handoff.referral_id, "no_handler")
    assert callback.phone is not None
    assert handler_state(busy) is S.OFFLINE


def test_a_patient_past_the_hold_wait_waits_on_while_a_handler_is_ringing_for_them(
    webhooks: Webhooks,
) -> None:
    handoff_id, call_sid = queue_outbound_patient(webhooks, T0)
    handler_id = new_handler("Just free", available_at=T0 + timedelta(seconds=50))
    with frozen_at(T0 + timedelta(seconds=55)):
        acd.connect_waiting(webhooks.config, webhooks.provider)
    offer_id = offer_id_for(handoff_id, handler_id)

    with frozen_at(T0 + timedelta(seconds=61)):
        held = webhooks.post(
            f"/twilio/handoff/{handoff_id}/wait", call_params(call_sid, QueueTime="61")
        )
    with frozen_at(T0 + timedelta(seconds=64)):
        answer = webhooks.post(f"/twilio/offer/{offer_id}/answer", call_params(new_call_sid()))
        webhooks.run_enqueued()

    words = held.get_data(as_text=True)
    assert "<Leave" not in words and '<Pause length="5"' in words
    assert f">handoff-{handoff_id}</Queue>" in answer.get_data(as_text=True)
    handoff = load_handoff(handoff_id)
    assert (handoff.handler_id, handoff.abandoned, handoff.ended_at) == (handler_id, False, None)
    assert callbacks() == []


@pytest.mark.parametrize(
    ("rung_after_s", "queue_time_s"),
    [(30, 61), (55, 80)],
    ids=["ringing-longer-than-the-ring-timeout", "ring-timeout-past-the-hold-wait"],
)
def test_a_handler_ringing_keeps_a_patient_no_longer_than_the_ring_timeout(
    webhooks: Webhooks, rung_after_s: int, queue_time_s: int
) -> None:
    handoff_id, call_sid = queue_outbound_patient(webhooks, T0)
    handler_id = new_handler("Slow", available_at=T0 + timedelta(seconds=rung_after_s - 1))
    with frozen_at(T0 + timedelta(seconds=rung_after_s)):
        acd.connect_waiting(webhooks.config, webhooks.provider)
    assert offers() == [(handoff_id, handler_id, None)]

    with frozen_at(T0 + timedelta(seconds=queue_time_s)):
        late = webhooks.post(
            f"/twilio/handoff/{handoff_id}/wait",
            call_params(call_sid, QueueTime=str(queue_time_s)),
        )
        webhooks.run_enqueued()

    assert "<Leave" in late.get_data(as_text=True)
    handoff = load_handoff(handoff_id)
    assert (handoff.abandoned, handoff.ended_reason) == (True, "abandoned_timeout")


def test_a_patient_who_hangs_up_while_waiting_is_abandoned_and_ringing_handlers_are_stopped(
    webhooks: Webhooks,
) -> None:
    handoff_id, call_sid = queue_outbound_patient(webhooks, T0)
    handler_id = new_handler("Ringing", available_at=T0 - timedelta(minutes=1))
    with frozen_at(T0 + timedelta(seconds=1)):
        acd.connect_waiting(webhooks.config, webhooks.provider)

    with frozen_at(T0 + timedelta(seconds=9)):
        response = webhooks.post(
            f"/twilio/handoff/{handoff_id}/result",
            call_params(call_sid, QueueResult="hangup", QueueTime="9"),
        )
        webhooks.run_enqueued()

    assert response.status_code == 200
    handoff = load_handoff(handoff_id)
    assert (handoff.abandoned, handoff.ended_reason) == (True, "abandoned_hangup")
    assert len(callbacks()) == 1
    assert offers() == [(handoff_id, handler_id, "canceled")]
    assert handler_state(handler_id) is S.AVAILABLE
    with session_scope(read_only=True) as session:
        handler_sid = session.scalars(select(HandoffOffer.call_sid)).one()
    assert webhooks.provider.hung_up == [handler_sid]


def test_a_patient_whose_call_ends_with_no_queue_result_stops_waiting_and_ringing(
    webhooks: Webhooks,
) -> None:
    """The call's final status can be applied before (or without) the queue's own result: the
    patient is gone, so the wait ends and the handler rung for them is stopped."""
    handoff_id, call_sid = queue_outbound_patient(webhooks, T0)
    handler_id = new_handler("Ringing", available_at=T0 - timedelta(minutes=1))
    with frozen_at(T0 + timedelta(seconds=1)):
        acd.connect_waiting(webhooks.config, webhooks.provider)
    with session_scope(read_only=True) as session:
        attempt_id = session.get_one(Handoff, handoff_id).attempt_id

    with frozen_at(T0 + timedelta(seconds=9)):
        webhooks.post(
            f"/twilio/voice/{attempt_id}/status",
            call_params(call_sid, CallStatus="completed", SequenceNumber="3", CallDuration="40"),
        )
        webhooks.run_enqueued()

    handoff = load_handoff(handoff_id)
    assert (handoff.abandoned, handoff.ended_reason) == (True, "abandoned_hangup")
    assert len(callbacks()) == 1
    assert offers() == [(handoff_id, handler_id, "canceled")]
    assert handler_state(handler_id) is S.AVAILABLE
    with session_scope(read_only=True) as session:
        handler_sid = session.scalars(select(HandoffOffer.call_sid)).one()
    assert webhooks.provider.hung_up == [handler_sid]


@pytest.mark.parametrize("result", ["redirected", "queue-full"])
def test_a_patient_taken_out_of_the_queue_otherwise_stops_waiting(
    webhooks: Webhooks, result: str
) -> None:
    handoff_id, call_sid = queue_outbound_patient(webhooks, T0)

    with frozen_at(T0 + timedelta(seconds=5)):
        webhooks.post(
            f"/twilio/handoff/{handoff_id}/result",
            call_params(call_sid, QueueResult=result, QueueTime="5"),
        )
        webhooks.run_enqueued()

    handoff = load_handoff(handoff_id)
    assert handoff.ended_at is not None and handoff.abandoned
    assert len(callbacks()) == 1


def test_pressing_1_while_waiting_asks_for_a_callback_which_is_not_an_abandoned_call(
    webhooks: Webhooks,
) -> None:
    handoff_id, call_sid = queue_outbound_patient(webhooks, T0)

    with frozen_at(T0 + timedelta(seconds=20)):
        choice = webhooks.post(
            f"/twilio/handoff/{handoff_id}/wait-choice", call_params(call_sid, Digits="1")
        )
        webhooks.post(
            f"/twilio/handoff/{handoff_id}/result",
            call_params(call_sid, QueueResult="hangup", QueueTime="20"),
        )
        webhooks.run_enqueued()

    words = choice.get_data(as_text=True)
    assert "call you back" in words and "<Hangup" in words
    handoff = load_handoff(handoff_id)
    assert (handoff.abandoned, handoff.ended_reason, handoff.outcome) == (
        False,
        "callback_requested",
        "callback_requested",
    )
    (callback,) = callbacks()
    assert callback.reason == "patient_asked_in_queue"


def inbound(webhooks: Webhooks, caller: str) -> tuple[str, Handoff]:
    call_sid = new_call_sid()
    params = call_params(call_sid, From=caller, To="+441632960000", Direction="inbound")
    with frozen_at(T0):
        response = webhooks.post("/twilio/voice/inbound", params)
        replay = webhooks.post("/twilio/voice/inbound", params)
        webhooks.run_enqueued()
    assert replay.get_data(as_text=True) == response.get_data(as_text=True)
    with session_scope(read_only=True) as session:
        handoff = session.scalars(select(Handoff).where(Handoff.call_sid == call_sid)).one()
    return response.get_data(as_text=True), handoff


def test_an_inbound_caller_is_recognised_by_number_greeted_and_queued_with_their_referral(
    webhooks: Webhooks,
) -> None:
    with session_scope() as session:
        patient = create_patient(session)
        referral_id = create_referral(
            session, patient=patient, status=ReferralStatus.IN_OUTREACH
        ).id
        create_referral(session, patient=patient, status=ReferralStatus.BOOKED)
        mobile = patient.mobile_phone or ""

    twiml, handoff = inbound(webhooks, mobile)

    assert "thank you for calling the NHS referral booking service" in twiml
    assert f">handoff-{handoff.id}</Enqueue>" in twiml
    assert (handoff.referral_id, handoff.source, handoff.caller_number) == (
        referral_id,
        "inbound",
        mobile,
    )
    with session_scope(read_only=True) as session:
        assert session.get_one(Referral, referral_id).status is ReferralStatus.REACHED
        assert session.scalar(select(func.count()).select_from(Handoff)) == 1


@pytest.mark.parametrize("who", ["unknown", "two patients share the number"])
def test_an_unknown_or_ambiguous_caller_is_queued_without_a_referral(
    webhooks: Webhooks, who: str
) -> None:
    number = "+447700900999"
    if who != "unknown":
        with session_scope() as session:
            for _ in range(2):
                create_referral(
                    session,
                    patient=create_patient(session, mobile_phone=number),
                    status=ReferralStatus.IN_OUTREACH,
                )

    twiml, handoff = inbound(webhooks, number)

    assert "<Enqueue" in twiml
    assert handoff.referral_id is None and handoff.source == "inbound"


def test_forged_handoff_callbacks_get_403_and_replays_are_stored_once(webhooks: Webhooks) -> None:
    handoff_id, call_sid = queue_outbound_patient(webhooks, T0)
    handler_id = new_handler("Replayed", available_at=T0 - timedelta(minutes=1))
    with frozen_at(T0 + timedelta(seconds=1)):
        acd.connect_waiting(webhooks.config, webhooks.provider)
    offer_id = offer_id_for(handoff_id, handler_id)
    with session_scope(read_only=True) as session:
        stored_before = session.scalar(select(func.count()).select_from(ProviderEvent)) or 0

    forged = [
        webhooks.client.post(path, data=params, headers={"X-Twilio-Signature": "Zm9yZ2Vk"})
        for path, params in [
            (f"/twilio/handoff/{handoff_id}/wait-choice", call_params(call_sid, Digits="1")),
            (f"/twilio/offer/{offer_id}/status", call_params(call_sid, CallStatus="no-answer")),
            ("/twilio/voice/inbound", call_params(new_call_sid(), From="+447700900998")),
        ]
    ]
    status = call_params(new_call_sid(), CallStatus="no-answer")
    replays = [webhooks.post(f"/twilio/offer/{offer_id}/status", status) for _ in range(3)]
    unknown = webhooks.post("/twilio/offer/999999/status", status)

    assert [response.status_code for response in forged] == [403, 403, 403]
    assert [response.status_code for response in replays] == [204] * 3
    assert unknown.status_code == 204
    assert [name for name, _ in webhooks.enqueued] == ["apply-provider-event"]
    with session_scope(read_only=True) as session:
        assert session.scalar(select(func.count()).select_from(ProviderEvent)) == stored_before + 1
        assert session.scalar(select(func.count()).select_from(Handoff)) == 1
    assert load_handoff(handoff_id).ended_at is None


def claimed_callback(handler_id: int) -> int:
    with session_scope() as session:
        referral = create_referral(
            session, status=ReferralStatus.REACHED, ubrn=f"{next(UBRN_PREFIXES):08d}7777"
        )
        callback = CallbackRequest(
            referral_id=referral.id,
            reason="no_handler",
            phone=referral.patient.mobile_phone,
            claimed_by_handler_id=handler_id,
            claimed_at=T0,
        )
        session.add(callback)
        session.flush()
        return callback.id


def test_call_this_patient_now_rings_the_handler_then_dials_the_patient_from_our_number(
    webhooks: Webhooks,
) -> None:
    handler_id = new_handler("Caller", available_at=T0 - timedelta(minutes=1))
    callback_id = claimed_callback(handler_id)

    with frozen_at(T0):
        offer_id = acd.call_patient_now(callback_id, handler_id, webhooks.provider, webhooks.config)
        answer = webhooks.post(f"/twilio/offer/{offer_id}/answer", call_params(new_call_sid()))
        webhooks.run_enqueued()
    on_the_call = handler_state(handler_id)
    with frozen_at(T0 + timedelta(seconds=90)):
        webhooks.post(
            f"/twilio/offer/{offer_id}/dial-end",
            call_params(new_call_sid(), DialCallStatus="completed", DialCallDuration="70"),
        )
        webhooks.run_enqueued()

    (request,) = webhooks.provider.handler_calls
    assert request.to == "client:Caller"
    twiml = answer.get_data(as_text=True)
    with session_scope(read_only=True) as session:
        callback = session.get_one(CallbackRequest, callback_id)
        handoff = session.scalars(select(Handoff)).one()
    assert "Calling the patient for referral ending 7 7 7 7" in twiml
    assert f'callerId="{webhooks.config.caller_id}"' in twiml
    assert f">{callback.phone}</Number>" in twiml
    assert on_the_call is S.ON_CALL
    assert (handoff.source, handoff.callback_request_id, handoff.abandoned) == (
        "callback",
        callback_id,
        False,
    )
    assert (handoff.ended_reason, handoff.talk_seconds) == ("bridged_done", 70)
    assert handler_state(handler_id) is S.WRAP_UP


def _set_call_status(webhooks: Webhooks, sid: str, status: str, duration_s: int | None) -> None:
    known = webhooks.provider.known_calls[sid]
    webhooks.provider.known_calls[sid] = dataclasses.replace(
        known, status=status, duration_s=duration_s
    )


def test_a_handlers_call_whose_end_never_reached_us_is_asked_of_the_provider(
    webhooks: Webhooks,
) -> None:
    """Every callback of a "call this patient now" call's end is lost: the sweep asks the
    provider once the call has been open a while, and ends it only when the provider says so."""
    handler_id = new_handler("Unheard", available_at=T0 - timedelta(minutes=1))
    callback_id = claimed_callback(handler_id)
    with frozen_at(T0):
        offer_id = acd.call_patient_now(callback_id, handler_id, webhooks.provider, webhooks.config)
    with session_scope(read_only=True) as session:
        handler_sid = session.get_one(HandoffOffer, offer_id).call_sid
    assert handler_sid is not None
    with frozen_at(T0 + timedelta(seconds=5)):
        webhooks.post(f"/twilio/offer/{offer_id}/answer", call_params(handler_sid))
        webhooks.run_enqueued()
    _set_call_status(webhooks, handler_sid, "in-progress", None)
    lookups = webhooks.provider.lookups

    def sweep(at: datetime) -> list[int]:
        with frozen_at(at):
            found = reconcile.sweep(webhooks.provider, webhooks.config).events
            webhooks.enqueued += [(APPLY_PROVIDER_EVENT, [event_id]) for event_id in found]
            webhooks.run_enqueued()
        return found

    assert sweep(T0 + timedelta(minutes=4)) == []  # not open long enough to ask
    assert webhooks.provider.lookups == lookups
    assert sweep(T0 + timedelta(minutes=12)) == []  # a long call: asked, still going
    assert webhooks.provider.lookups == lookups + 1
    assert handler_state(handler_id) is S.ON_CALL

    _set_call_status(webhooks, handler_sid, "completed", 800)
    found = sweep(T0 + timedelta(minutes=14))

    assert len(found) == 1
    assert handler_state(handler_id) is S.WRAP_UP
    with session_scope(read_only=True) as session:
        handoff = session.scalars(select(Handoff)).one()
        offer = session.get_one(HandoffOffer, offer_id)
    assert handoff.ended_at == T0 + timedelta(minutes=14)
    assert offer.ended_at == T0 + timedelta(minutes=14)
    # The callback arriving after all is a replay: stored once, nothing applied twice.
    with frozen_at(T0 + timedelta(minutes=15)):
        late = webhooks.post(
            f"/twilio/offer/{offer_id}/status", call_params(handler_sid, CallStatus="completed")
        )
    assert late.status_code == 204
    assert webhooks.enqueued == []
    assert sweep(T0 + timedelta(minutes=20)) == []  # ended: never asked again
    assert webhooks.provider.lookups == lookups + 2


def test_call_this_patient_now_is_refused_outside_the_window_or_without_the_claim(
    webhooks: Webhooks,
) -> None:
    handler_id = new_handler("Refused", available_at=T0 - timedelta(minutes=1))
    other_id = new_handler("Other", available_at=T0 - timedelta(minutes=1))
    callback_id = claimed_callback(handler_id)

    with frozen_at(WEDNESDAY_EVENING), pytest.raises(acd.OutsideCallingWindow):
        acd.call_patient_now(callback_id, handler_id, webhooks.provider, webhooks.config)
    with frozen_at(T0), pytest.raises(acd.CallbackNotClaimed):
        acd.call_patient_now(callback_id, other_id, webhooks.provider, webhooks.config)
    with frozen_at(T0), pytest.raises(acd.CallbackNotFound):
        acd.call_patient_now(999999, handler_id, webhooks.provider, webhooks.config)

    assert webhooks.provider.handler_calls == []
    assert handler_state(handler_id) is S.AVAILABLE
    with session_scope(read_only=True) as session:
        assert session.scalar(select(func.count()).select_from(Handoff)) == 0


def test_an_attempt_we_never_made_gets_no_handoff(webhooks: Webhooks) -> None:
    response = webhooks.post(
        f"/twilio/voice/{uuid.uuid4()}/choice?round=1", call_params(new_call_sid(), Digits="1")
    )

    assert "<Hangup" in response.get_data(as_text=True)
    with session_scope(read_only=True) as session:
        assert session.scalar(select(func.count()).select_from(Handoff)) == 0
