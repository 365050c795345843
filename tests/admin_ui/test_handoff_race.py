"""The race between the hold-wait timeout and a handler, through the ACD's webhooks.

A patient waits in their own queue; the wait URL sends them out when the hold wait is over, and a
handler being rung for them may answer at the same moment. Exactly one of the two wins, decided by
one conditional UPDATE of the handoff row in the request that answers Twilio:

- the handler answered first: the patient is theirs (``<Dial><Queue>``), and the wait URL keeps
  the patient in the queue however long the wait has been: connected, never abandoned, no callback
  request, and the handler's outcome is recorded;
- the hold wait ran out first: the patient leaves (``<Leave/>``, the information message, a
  callback request, abandoned) and the handler hears that the caller has gone, with no
  ``<Dial><Queue>``, and is free again (not made away as if they had not answered).

Each order is played step by step (deterministic), and also with the two requests really
concurrent: the first one's transaction is held open after its decision while the second
arrives. Every test runs on SQLite and PostgreSQL.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import timedelta
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import event, func, select
from sqlalchemy.orm import Session
from werkzeug.test import TestResponse

from admin_ui.webhooks import ENQUEUE_EXTENSION
from rmc_outreach import abandonment, acd
from rmc_outreach.clock import frozen_at
from rmc_outreach.db import READ_ONLY_OPTION, session_scope
from rmc_outreach.models import CallbackRequest, ContactAttempt, Handoff, HandoffOffer
from rmc_outreach.telephony.handoff_twiml import HANDLER_RING_TIMEOUT_S
from tests.admin_ui.conftest import StaffClient
from tests.admin_ui.test_handoff_webhooks import (  # noqa: F401 (someone_signed_in is autouse)
    T0,
    S,
    callbacks,
    handler_state,
    load_handoff,
    new_handler,
    offer_id_for,
    offers,
    queue_outbound_patient,
    someone_signed_in,
    spell_states,
)
from tests.admin_ui.webhook_support import (  # noqa: F401 (the webhooks fixture)
    Webhooks,
    call_params,
    new_call_sid,
    webhooks_fixture,
)

HOLD_WAIT_S = 60
# A patient whose handler's phone is ringing when the hold wait runs out waits on while it
# rings, for at most the ring timeout: the last moment of any wait.
LAST_WAIT_S = HOLD_WAIT_S + HANDLER_RING_TIMEOUT_S


@pytest.fixture
def console(
    app: Flask, handler_client: Callable[[int], StaffClient]
) -> Callable[[int], StaffClient]:
    """The console of a handler, signed in as them (tasks it would enqueue are dropped)."""
    app.extensions[ENQUEUE_EXTENSION] = lambda name, args: None
    return handler_client


def offered(webhooks: Webhooks, handoff_id: int, handler_id: int, seconds: int) -> int:
    """Ring the handler for the waiting patient at T0 + ``seconds``; the offer id."""
    with frozen_at(T0 + timedelta(seconds=seconds)):
        assert acd.connect_waiting(webhooks.config, webhooks.provider) == 1
    return offer_id_for(handoff_id, handler_id)


def answer(webhooks: Webhooks, offer_id: int, handler_sid: str) -> TestResponse:
    return webhooks.post(f"/twilio/offer/{offer_id}/answer", call_params(handler_sid))


def wait_url(webhooks: Webhooks, handoff_id: int, patient_sid: str, waited_s: int) -> TestResponse:
    return webhooks.post(
        f"/twilio/handoff/{handoff_id}/wait", call_params(patient_sid, QueueTime=str(waited_s))
    )


def dials_the_queue(response: TestResponse, handoff_id: int) -> bool:
    body = response.get_data(as_text=True)
    return "<Dial" in body and f">handoff-{handoff_id}</Queue>" in body


def leaves(response: TestResponse) -> bool:
    return "<Leave" in response.get_data(as_text=True)


def abandoned_today(webhooks: Webhooks) -> tuple[int, int]:
    """(live-answered, abandoned) outbound calls of the day the call was placed, as the Ofcom
    figures count them."""
    window = webhooks.config.window
    with session_scope(read_only=True) as session:
        placed = session.scalars(select(ContactAttempt.created_at)).one()
        figures = abandonment.day_figures(session, window.local(placed).date(), window)
    return figures.live_answered, figures.abandoned


def open_callbacks() -> list[CallbackRequest]:
    return [callback for callback in callbacks() if callback.completed_at is None]


def talk_and_hang_up(
    webhooks: Webhooks,
    offer_id: int,
    handoff_id: int,
    *,
    patient_sid: str,
    handler_sid: str,
    at_s: int,
    talked_s: int,
) -> None:
    """The handler hangs up after talking: the Dial action, the patient's Enqueue action and the
    handler leg's final status, then the tasks."""
    with frozen_at(T0 + timedelta(seconds=at_s)):
        webhooks.post(
            f"/twilio/offer/{offer_id}/dial-end",
            call_params(
                handler_sid,
                DialCallStatus="completed",
                DialCallDuration=str(talked_s),
                DialCallSid=patient_sid,
            ),
        )
        webhooks.post(
            f"/twilio/handoff/{handoff_id}/result",
            call_params(patient_sid, QueueResult="bridged", QueueTime=str(at_s - talked_s)),
        )
        webhooks.post(
            f"/twilio/offer/{offer_id}/status", call_params(handler_sid, CallStatus="completed")
        )
        webhooks.run_enqueued()


def record_booking(console: Callable[[int], StaffClient], handler_id: int, handoff_id: int) -> Any:
    with frozen_at(T0 + timedelta(minutes=10)):
        return console(handler_id).post(
            f"/api/console/{handler_id}/outcome",
            json={
                "handoff_id": handoff_id,
                "outcome": "booked",
                "booked_for": (T0 + timedelta(days=14)).date().isoformat(),
                "clinic": "Outpatients A",
            },
        )


# -- the handler answers first, then the hold wait runs out ------------------------------------


def test_a_handler_who_answers_just_before_the_hold_wait_ends_gets_the_patient(
    webhooks: Webhooks, console: Callable[[int], StaffClient]
) -> None:
    handoff_id, patient_sid = queue_outbound_patient(webhooks, T0)
    handler_id = new_handler("Just in time", available_at=T0 - timedelta(minutes=5))
    offer_id = offered(webhooks, handoff_id, handler_id, 50)
    handler_sid = new_call_sid()

    with frozen_at(T0 + timedelta(seconds=58)):
        answered = answer(webhooks, offer_id, handler_sid)
    # The whisper plays to the handler; meanwhile the hold wait is over for the patient, who
    # asks for the wait URL (and presses 1 for a callback) before the handler's Dial takes them.
    with frozen_at(T0 + timedelta(seconds=60)):
        at_the_limit = wait_url(webhooks, handoff_id, patient_sid, HOLD_WAIT_S)
        pressed = webhooks.post(
            f"/twilio/handoff/{handoff_id}/wait-choice", call_params(patient_sid, Digits="1")
        )
        webhooks.run_enqueued()
    with frozen_at(T0 + timedelta(seconds=62)):
        later = wait_url(webhooks, handoff_id, patient_sid, HOLD_WAIT_S + 2)
        bridged = webhooks.post(f"/twilio/offer/{offer_id}/bridged", call_params(patient_sid))
        webhooks.run_enqueued()
    on_the_call = handler_state(handler_id)
    talk_and_hang_up(
        webhooks,
        offer_id,
        handoff_id,
        patient_sid=patient_sid,
        handler_sid=handler_sid,
        at_s=200,
        talked_s=138,
    )
    outcome = record_booking(console, handler_id, handoff_id)

    assert dials_the_queue(answered, handoff_id)
    for kept in (at_the_limit, pressed, later):
        assert not leaves(kept) and "<Hangup" not in kept.get_data(as_text=True)
        assert "<Pause" in kept.get_data(as_text=True)
    assert bridged.status_code == 200
    assert on_the_call is S.ON_CALL
    handoff = load_handoff(handoff_id)
    assert (handoff.handler_id, handoff.connected_at) == (handler_id, T0 + timedelta(seconds=58))
    assert (handoff.abandoned, handoff.ended_reason, handoff.talk_seconds) == (
        False,
        "bridged_done",
        138,
    )
    assert outcome.status_code == 200, outcome.get_data(as_text=True)
    assert load_handoff(handoff_id).outcome == "booked"
    assert callbacks() == []
    assert offers() == [(handoff_id, handler_id, "bridged")]
    assert handler_state(handler_id) is S.AVAILABLE
    assert S.AWAY not in spell_states(handler_id)
    assert abandoned_today(webhooks) == (1, 0)


# -- the hold wait runs out first, then the handler answers ------------------------------------


@pytest.mark.parametrize(
    "tasks_before_the_answer", [False, True], ids=["answer-first", "tasks-first"]
)
def test_a_handler_who_answers_just_after_the_hold_wait_ended_hears_the_caller_has_gone(
    webhooks: Webhooks, tasks_before_the_answer: bool
) -> None:
    handoff_id, patient_sid = queue_outbound_patient(webhooks, T0)
    handler_id = new_handler("Just too late", available_at=T0 - timedelta(minutes=5))
    offer_id = offered(webhooks, handoff_id, handler_id, 70)
    handler_sid = new_call_sid()

    with frozen_at(T0 + timedelta(seconds=LAST_WAIT_S)):
        at_the_limit = wait_url(webhooks, handoff_id, patient_sid, LAST_WAIT_S)
        if tasks_before_the_answer:
            webhooks.run_enqueued()
    with frozen_at(T0 + timedelta(seconds=LAST_WAIT_S + 1)):
        answered = answer(webhooks, offer_id, handler_sid)
        result = webhooks.post(
            f"/twilio/handoff/{handoff_id}/result",
            call_params(patient_sid, QueueResult="leave", QueueTime=str(LAST_WAIT_S)),
        )
        webhooks.run_enqueued()
    with frozen_at(
        T0 + timedelta(seconds=LAST_WAIT_S + 4)
    ):  # the handler heard the words, and hung up
        webhooks.post(
            f"/twilio/offer/{offer_id}/status", call_params(handler_sid, CallStatus="completed")
        )
        webhooks.run_enqueued()

    assert leaves(at_the_limit)
    words = answered.get_data(as_text=True)
    assert "<Dial" not in words and "<Queue" not in words
    assert "<Say" in words and "<Hangup" in words
    assert "NHS referral booking service" in result.get_data(as_text=True)
    handoff = load_handoff(handoff_id)
    assert (handoff.abandoned, handoff.ended_reason) == (True, "abandoned_timeout")
    assert (handoff.connected_at, handoff.handler_id) == (None, None)
    (callback,) = callbacks()
    assert (callback.reason, callback.completed_at) == ("no_handler", None)
    assert handler_state(handler_id) is S.AVAILABLE
    assert S.AWAY not in spell_states(handler_id)
    assert abandoned_today(webhooks) == (1, 1)


# -- the carrier reports a bridge for a patient we had sent out --------------------------------


def test_a_bridge_reported_after_the_patient_was_sent_out_counts_as_reached_not_abandoned(
    webhooks: Webhooks, console: Callable[[int], StaffClient]
) -> None:
    """What the demo showed: the patient was told to leave, yet the handler's ``<Dial><Queue>``
    (given before the wait ended) took them, and they talked. Whatever sent them out, the
    carrier's report of the bridge is the fact: connected, not abandoned, the callback request
    made when they were sent out is closed, and the handler's outcome is recorded (not 409)."""
    handoff_id, patient_sid = queue_outbound_patient(webhooks, T0)
    handler_id = new_handler("Bridged anyway", available_at=T0 - timedelta(minutes=5))
    offer_id = offered(webhooks, handoff_id, handler_id, 70)
    handler_sid = new_call_sid()
    with frozen_at(T0 + timedelta(seconds=LAST_WAIT_S)):
        assert leaves(wait_url(webhooks, handoff_id, patient_sid, LAST_WAIT_S))
        webhooks.run_enqueued()

    with frozen_at(T0 + timedelta(seconds=90)):
        webhooks.post(f"/twilio/offer/{offer_id}/bridged", call_params(patient_sid))
        webhooks.run_enqueued()
    talk_and_hang_up(
        webhooks,
        offer_id,
        handoff_id,
        patient_sid=patient_sid,
        handler_sid=handler_sid,
        at_s=190,
        talked_s=100,
    )
    outcome = record_booking(console, handler_id, handoff_id)

    handoff = load_handoff(handoff_id)
    assert (handoff.handler_id, handoff.abandoned, handoff.ended_reason) == (
        handler_id,
        False,
        "bridged_done",
    )
    assert handoff.connected_at == T0 + timedelta(seconds=90)
    assert handoff.talk_seconds == 100
    assert outcome.status_code == 200, outcome.get_data(as_text=True)
    assert open_callbacks() == []
    assert abandoned_today(webhooks) == (1, 0)
    assert handler_state(handler_id) is S.AVAILABLE


# -- a handler took the patient, but the bridge never happened ---------------------------------


def test_a_patient_who_hangs_up_after_a_handler_answered_but_before_the_bridge_is_abandoned(
    webhooks: Webhooks,
) -> None:
    handoff_id, patient_sid = queue_outbound_patient(webhooks, T0)
    handler_id = new_handler("Whispering", available_at=T0 - timedelta(minutes=5))
    offer_id = offered(webhooks, handoff_id, handler_id, 20)
    handler_sid = new_call_sid()

    with frozen_at(T0 + timedelta(seconds=25)):
        answered = answer(webhooks, offer_id, handler_sid)
        webhooks.run_enqueued()
    with frozen_at(T0 + timedelta(seconds=27)):  # during the whisper
        webhooks.post(
            f"/twilio/handoff/{handoff_id}/result",
            call_params(patient_sid, QueueResult="hangup", QueueTime="27"),
        )
        webhooks.run_enqueued()
    with frozen_at(T0 + timedelta(seconds=40)):  # the Dial found the queue empty
        webhooks.post(
            f"/twilio/offer/{offer_id}/dial-end",
            call_params(handler_sid, DialCallStatus="no-answer", DialCallDuration="0"),
        )
        webhooks.post(
            f"/twilio/offer/{offer_id}/status", call_params(handler_sid, CallStatus="completed")
        )
        webhooks.run_enqueued()

    body = answered.get_data(as_text=True)
    assert dials_the_queue(answered, handoff_id)
    assert 'timeout="' in body  # an empty queue is not waited on for Twilio's default 30 s
    handoff = load_handoff(handoff_id)
    assert (handoff.abandoned, handoff.ended_reason) == (True, "abandoned_hangup")
    assert (handoff.connected_at, handoff.handler_id) == (None, None)
    assert len(callbacks()) == 1
    assert handler_state(handler_id) is S.AVAILABLE
    assert S.AWAY not in spell_states(handler_id)
    assert abandoned_today(webhooks) == (1, 1)


def test_a_handler_who_hangs_up_during_the_whisper_puts_the_patient_back_for_the_next_one(
    webhooks: Webhooks,
) -> None:
    handoff_id, patient_sid = queue_outbound_patient(webhooks, T0)
    first = new_handler("Hung up", available_at=T0 - timedelta(minutes=5))
    offer_id = offered(webhooks, handoff_id, first, 20)
    second = new_handler("Next", available_at=T0 + timedelta(seconds=21))
    handler_sid = new_call_sid()

    with frozen_at(T0 + timedelta(seconds=25)):
        answer(webhooks, offer_id, handler_sid)
        webhooks.run_enqueued()
        taken = wait_url(webhooks, handoff_id, patient_sid, 25)
    with frozen_at(T0 + timedelta(seconds=27)):  # the handler's leg ends with no Dial at all
        webhooks.post(
            f"/twilio/offer/{offer_id}/status", call_params(handler_sid, CallStatus="completed")
        )
        webhooks.run_enqueued()  # and connect-handlers rings the next handler
    with frozen_at(T0 + timedelta(seconds=30)):
        waiting_again = wait_url(webhooks, handoff_id, patient_sid, 30)

    assert "<Gather" not in taken.get_data(as_text=True)
    handoff = load_handoff(handoff_id)
    assert (handoff.connected_at, handoff.handler_id, handoff.ended_at) == (None, None, None)
    assert "You are next in the queue." in waiting_again.get_data(as_text=True)
    assert offers() == [(handoff_id, first, "answered"), (handoff_id, second, None)]
    assert handler_state(first) is S.AVAILABLE
    assert handler_state(second) is S.RINGING
    assert callbacks() == []


def test_a_handler_leg_never_heard_from_again_does_not_keep_the_patient_in_silence(
    webhooks: Webhooks,
) -> None:
    """Every callback of the handler's leg after the answer was lost: once no bridge can still
    come, the patient is waiting again, and the hold wait ends as usual."""
    handoff_id, patient_sid = queue_outbound_patient(webhooks, T0)
    handler_id = new_handler("Lost", available_at=T0 - timedelta(minutes=5))
    offer_id = offered(webhooks, handoff_id, handler_id, 20)
    with frozen_at(T0 + timedelta(seconds=25)):
        answer(webhooks, offer_id, new_call_sid())
        webhooks.run_enqueued()

    with frozen_at(T0 + timedelta(seconds=60)):
        soon_after = wait_url(webhooks, handoff_id, patient_sid, HOLD_WAIT_S)
    with frozen_at(T0 + timedelta(seconds=120)):
        long_after = wait_url(webhooks, handoff_id, patient_sid, 115)
        webhooks.run_enqueued()

    assert not leaves(soon_after)
    assert leaves(long_after)
    handoff = load_handoff(handoff_id)
    assert (handoff.abandoned, handoff.ended_reason, handoff.handler_id) == (
        True,
        "abandoned_timeout",
        None,
    )
    assert len(callbacks()) == 1


def test_a_repeated_answer_request_gets_the_same_bridge_and_a_second_handler_cannot_take_it(
    webhooks: Webhooks,
) -> None:
    handoff_id, _ = queue_outbound_patient(webhooks, T0)
    first = new_handler("First", available_at=T0 - timedelta(minutes=5))
    offer_id = offered(webhooks, handoff_id, first, 20)
    handler_sid = new_call_sid()
    with frozen_at(T0 + timedelta(seconds=25)):
        once = answer(webhooks, offer_id, handler_sid)
        again = answer(webhooks, offer_id, handler_sid)
        webhooks.run_enqueued()
    # A second offer for the same patient (e.g. made by hand while the first was ringing).
    second = new_handler("Second", available_at=T0 - timedelta(minutes=1))
    with frozen_at(T0 + timedelta(seconds=26)), session_scope() as session:
        other = HandoffOffer(handoff_id=handoff_id, handler_id=second, offered_at=T0)
        session.add(other)
        session.flush()
        other_id = other.id
    with frozen_at(T0 + timedelta(seconds=27)):
        late = answer(webhooks, other_id, new_call_sid())

    assert dials_the_queue(once, handoff_id) and dials_the_queue(again, handoff_id)
    assert not dials_the_queue(late, handoff_id)
    assert load_handoff(handoff_id).handler_id == first


# -- the two requests really concurrent --------------------------------------------------------


@dataclass
class Held:
    """The first request's transaction, held open just before its commit."""

    reached: threading.Event
    release: threading.Event


@contextmanager
def held_open_after_deciding(first_thread: threading.Thread) -> Iterator[Held]:
    """Hold ``first_thread``'s first writing transaction open just before it commits (it has
    decided, and holds whatever it locked); ``release`` lets it commit."""
    held = Held(threading.Event(), threading.Event())

    def before_commit(session: Session) -> None:
        if threading.current_thread() is not first_thread or held.reached.is_set():
            return
        if session.get_bind().get_execution_options().get(READ_ONLY_OPTION):
            return
        held.reached.set()
        held.release.wait(timeout=30)

    event.listen(Session, "before_commit", before_commit)
    try:
        yield held
    finally:
        held.release.set()
        event.remove(Session, "before_commit", before_commit)


@pytest.mark.parametrize("first", ["wait-url", "handler-answer"])
def test_the_wait_url_and_the_handler_answering_at_once_never_both_win(
    webhooks: Webhooks, first: str
) -> None:
    handoff_id, patient_sid = queue_outbound_patient(webhooks, T0)
    handler_id = new_handler("Racing", available_at=T0 - timedelta(minutes=5))
    offer_id = offered(webhooks, handoff_id, handler_id, 70)
    responses: dict[str, TestResponse] = {}

    def wait_request() -> None:  # each thread with its own client, as two web requests
        patient_side = replace(webhooks, client=webhooks.app.test_client())
        responses["wait-url"] = wait_url(patient_side, handoff_id, patient_sid, LAST_WAIT_S)

    def answer_request() -> None:
        handler_side = replace(webhooks, client=webhooks.app.test_client())
        responses["handler-answer"] = answer(handler_side, offer_id, new_call_sid())

    requests = {"wait-url": wait_request, "handler-answer": answer_request}
    second = "handler-answer" if first == "wait-url" else "wait-url"
    with frozen_at(T0 + timedelta(seconds=LAST_WAIT_S)):
        first_thread = threading.Thread(target=requests[first])
        second_thread = threading.Thread(target=requests[second])
        with held_open_after_deciding(first_thread) as held:
            first_thread.start()
            assert held.reached.wait(timeout=30), "the first request never reached its commit"
            second_thread.start()
            second_thread.join(timeout=1.5)  # it may only wait, or answer without the first
            held.release.set()
            first_thread.join(timeout=30)
            second_thread.join(timeout=30)
    assert set(responses) == {"wait-url", "handler-answer"}

    sent_out = leaves(responses["wait-url"])
    taken = dials_the_queue(responses["handler-answer"], handoff_id)
    assert sent_out != taken, "exactly one of <Leave/> and <Dial><Queue> must be given"
    assert (sent_out, taken) == ((True, False) if first == "wait-url" else (False, True))
    handoff = load_handoff(handoff_id)
    if sent_out:
        assert (handoff.ended_reason, handoff.handler_id, handoff.connected_at) == (
            "abandoned_timeout",
            None,
            None,
        )
        assert len(callbacks()) == 1
    else:
        assert (handoff.ended_at, handoff.handler_id) == (None, handler_id)
        assert callbacks() == []
    with session_scope(read_only=True) as session:
        assert session.scalar(select(func.count()).select_from(Handoff)) == 1
