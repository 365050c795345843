"""What the ACD's webhooks answer, and what they store, in one small transaction each.

Each function stores the callback once (``events.record_event``; a replay stores nothing and
returns no event id, so nothing is enqueued twice) and returns the TwiML Twilio must get now.
The database work here is only what the answer depends on (the patient's place, whether the
patient is still waiting, the referral for the whisper) and the decisions the answer makes: the
end of the wait (``<Leave/>``) and a handler taking the patient (``<Dial><Queue>``) are each won
in the request that answers, in one conditional UPDATE (``acd.handoff_state``), so Twilio never
gets both for one patient. The rest is applied by a task (``acd.apply``).
"""

from __future__ import annotations

import logging
import re
import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from rmc_outreach.acd import handoff_state
from rmc_outreach.acd.apply import HANDOFF_ID_FIELD, OFFER_ID_FIELD
from rmc_outreach.acd.connect import callback_number
from rmc_outreach.acd.queueing import inbound_handoff, outbound_handoff, position
from rmc_outreach.clock import now
from rmc_outreach.db import session_scope
from rmc_outreach.engine_config import EngineConfig
from rmc_outreach.events import EventKind, record_event
from rmc_outreach.models import (
    CallbackRequest,
    Handoff,
    HandoffEndReason,
    HandoffOffer,
    HandoffSource,
    OfferResult,
    Priority,
    Referral,
)
from rmc_outreach.telephony import handoff_twiml

log = logging.getLogger(__name__)

# A patient past the hold wait whose handler's phone is ringing is asked again this soon.
RINGING_PAUSE_S = 5

SPOKEN_PRIORITY = {
    Priority.TWO_WEEK_WAIT: "two week wait",
    Priority.URGENT: "urgent",
    Priority.ROUTINE: "routine",
}


@dataclass(frozen=True)
class Answer:
    """The TwiML to return, and the stored event to apply (None: nothing new stored)."""

    twiml: str
    event_id: int | None = None
    connect_handlers: bool = False


def _store(
    session: Session, kind: str, key: str, payload: dict[str, Any], **ids: int
) -> int | None:
    fields = {HANDOFF_ID_FIELD: ids["handoff_id"]} if "handoff_id" in ids else {}
    if "offer_id" in ids:
        fields = {OFFER_ID_FIELD: ids["offer_id"]}
    return record_event(
        session,
        event_key=key,
        kind=kind,
        payload={**payload, **{name: str(value) for name, value in fields.items()}},
        provider_sid=str(payload.get("CallSid") or "") or None,
    )


def queue_outbound(attempt_id: uuid.UUID, call_sid: str, config: EngineConfig) -> Answer | None:
    """The patient of an outbound call pressed 1: their handoff (created now), then its queue.
    None when we never made this attempt."""
    with session_scope() as session:
        handoff_id = outbound_handoff(session, attempt_id, call_sid)
    if handoff_id is None:
        return None
    twiml = handoff_twiml.enqueue(handoff_id, config.public_context, config.urls, intro="hold")
    return Answer(twiml, connect_handlers=True)


def queue_inbound(payload: dict[str, Any], config: EngineConfig) -> Answer:
    """A call to our number: recognise the caller when we can, greet, and queue them."""
    call_sid = str(payload.get("CallSid") or "")
    with session_scope() as session:
        handoff_id, created = inbound_handoff(session, call_sid, str(payload.get("From") or ""))
        event_id = (
            _store(
                session,
                EventKind.CALL_INBOUND,
                f"inbound:{call_sid}",
                payload,
                handoff_id=handoff_id,
            )
            if created
            else None
        )
    twiml = handoff_twiml.enqueue(
        handoff_id, config.public_context, config.urls, intro="inbound_greeting"
    )
    return Answer(twiml, event_id, connect_handlers=created)


def _queue_time(payload: dict[str, Any]) -> int:
    try:
        return max(0, int(str(payload.get("QueueTime") or "0")))
    except ValueError:
        return 0


def _out_of_the_queue(handoff: Handoff) -> str:
    """What a patient no longer waiting hears from the wait URL (or a key pressed there): a
    pause while a handler is taking them; ``<Leave/>`` if their wait has ended with nobody (a
    repeated request: once in the queue they must never be left in silence)."""
    if handoff.ended_at is not None and handoff.connected_at is None:
        return handoff_twiml.leave_queue()
    return handoff_twiml.quiet()


def wait(handoff_id: int, payload: dict[str, Any], config: EngineConfig) -> Answer | None:
    """The wait URL: the patient's place and the callback choice while a handler may still
    come; after the hold wait, out of the queue (no handler in time), unless a handler has taken
    them (``handoff_state``: exactly one of the two wins), or a handler's phone is ringing for
    them now: they wait on while it rings (``RINGING_PAUSE_S`` at a time, for at most the ring
    timeout past the hold wait), as sending them away seconds before that handler answers would
    abandon a patient a handler was about to take. None: no such handoff."""
    hold_s = int(config.hold_wait.total_seconds())
    waited_s = _queue_time(payload)
    remaining_s = hold_s - waited_s
    moment = now()
    with session_scope(read_only=True) as session:
        handoff = session.get(Handoff, handoff_id)
        if handoff is None:
            return None
        expired = handoff_state.claim_expired(session, handoff, moment)
        place = position(session, handoff_id)
        words = _out_of_the_queue(handoff)
        if (
            remaining_s <= 0
            and waited_s < hold_s + handoff_twiml.HANDLER_RING_TIMEOUT_S
            and handoff_state.handler_ringing(session, handoff_id, moment)
        ):
            remaining_s = RINGING_PAUSE_S  # their handler's phone is ringing: a moment more
    released = False
    if expired or (remaining_s <= 0 and place is not None):
        with session_scope() as session:
            handoff = handoff_state.lock(session, handoff_id)
            if handoff is None:
                return None
            released = handoff_state.release_expired(session, handoff, at=moment)
            if remaining_s <= 0 and handoff_state.close_waiting(
                session, handoff_id, HandoffEndReason.ABANDONED_TIMEOUT, at=moment
            ):
                event_id = _store(
                    session,
                    EventKind.HANDOFF_LEAVE,
                    f"handoff-leave:{handoff_id}",
                    payload,
                    handoff_id=handoff_id,
                )
                return Answer(handoff_twiml.leave_queue(), event_id)
            session.refresh(handoff)
            place = position(session, handoff_id)
            words = _out_of_the_queue(handoff)
    if place is None:  # taken by a handler (being connected), or already out of the queue
        return Answer(words)
    pause_s = max(1, min(config.hold_pause_s, remaining_s))
    return Answer(
        handoff_twiml.waiting(handoff_id, place, pause_s, config.public_context, config.urls),
        connect_handlers=released,  # waiting again: another handler may take them
    )


def wait_choice(handoff_id: int, payload: dict[str, Any], config: EngineConfig) -> Answer | None:
    """A key pressed while waiting: 1 asks for a callback instead (the patient chose: not
    abandoned), unless a handler has already taken them; anything else, back to waiting."""
    digit = str(payload.get("Digits") or "").strip()
    if digit != handoff_twiml.CALLBACK_DIGIT:
        return wait(handoff_id, payload, config)
    with session_scope() as session:
        handoff = handoff_state.lock(session, handoff_id)
        if handoff is None:
            return None
        if not handoff_state.close_waiting(
            session, handoff_id, HandoffEndReason.CALLBACK_REQUESTED
        ):
            return Answer(_out_of_the_queue(handoff))
        event_id = _store(
            session,
            EventKind.HANDOFF_CALLBACK_CHOICE,
            f"handoff-callback-choice:{handoff_id}",
            payload,
            handoff_id=handoff_id,
        )
    answer = handoff_twiml.say_then_hang_up("callback_confirmed", config.public_context)
    return Answer(answer, event_id)


def queue_result(handoff_id: int, payload: dict[str, Any], config: EngineConfig) -> Answer | None:
    """The Enqueue action (QueueResult): after a bridge, goodbye; after leaving the queue, the
    words for why (the information message unless the patient chose a callback)."""
    result = str(payload.get("QueueResult") or "")
    with session_scope() as session:
        handoff = session.get(Handoff, handoff_id)
        if handoff is None:
            return None
        reason = handoff.ended_reason
        event_id = _store(
            session,
            EventKind.HANDOFF_RESULT,
            f"handoff-result:{handoff_id}",
            payload,
            handoff_id=handoff_id,
        )
    context = config.public_context
    if result in ("bridged", "hangup"):
        return Answer(handoff_twiml.hang_up(), event_id)
    if reason == HandoffEndReason.CALLBACK_REQUESTED:
        return Answer(handoff_twiml.say_then_hang_up("callback_confirmed", context), event_id)
    # Leave, error or anything else: never silence.
    return Answer(handoff_twiml.say_then_hang_up("no_handler", context), event_id)


def _spoken_digits(text: str) -> str:
    return " ".join(re.sub(r"\D", "", text))


def _whisper_values(session: Session, handoff: Handoff) -> dict[str, str]:
    referral = session.get(Referral, handoff.referral_id) if handoff.referral_id else None
    if referral is None:
        return {"ubrn_last4": "", "ubrn_last4_spoken": "", "priority": "", "specialty": ""}
    last4 = referral.ubrn[-4:]
    return {
        "ubrn_last4": last4,
        "ubrn_last4_spoken": _spoken_digits(last4),
        "priority": SPOKEN_PRIORITY.get(referral.priority, str(referral.priority)),
        "specialty": referral.specialty,
    }


def _callback_number(session: Session, handoff: Handoff) -> str | None:
    if handoff.callback_request_id is None:
        return None
    callback = session.get(CallbackRequest, handoff.callback_request_id)
    return callback_number(session, callback) if callback is not None else None


def _handler_takes(session: Session, handoff: Handoff, offer: HandoffOffer) -> bool:
    """Whether the offer's handler gets the patient: they take them now (``handoff_state.take``),
    or took them already (a repeated request); for "call this patient now", whether the call is
    still on."""
    if handoff.source == HandoffSource.CALLBACK:
        return offer.result is None and handoff.ended_at is None
    if handoff_state.take(session, handoff, offer, at=now()):
        return True
    return (
        handoff_state.taken_by(handoff, offer)
        and handoff.ended_at is None
        and offer.result in (OfferResult.ANSWERED, OfferResult.BRIDGED)
    )


def offer_answer(offer_id: int, payload: dict[str, Any], config: EngineConfig) -> Answer | None:
    """The handler picked up: the whisper, then the bridge (``<Dial><Queue>`` for a waiting
    patient, now theirs; ``<Dial><Number>`` for a callback); or, when the patient is gone (or
    another handler has them), say so: never a Dial for a patient the handler did not take."""
    with session_scope() as session:
        offer = session.get(HandoffOffer, offer_id)
        if offer is None:
            return None
        handoff = handoff_state.lock(session, offer.handoff_id)
        if handoff is None:
            return None
        session.refresh(offer)
        event_id = _store(
            session, EventKind.OFFER_ANSWER, f"offer-answer:{offer_id}", payload, offer_id=offer_id
        )
        values = _whisper_values(session, handoff)
        gone = not _handler_takes(session, handoff, offer)
        number = _callback_number(session, handoff) if not gone else None
        source, handoff_id = handoff.source, handoff.id
    if gone:
        return Answer(handoff_twiml.staff_message("caller_gone"), event_id)
    if source == HandoffSource.CALLBACK:
        if number is None:
            return Answer(handoff_twiml.staff_message("caller_gone"), event_id)
        whisper = handoff_twiml.render_with("staff/whisper_callback", **values)
        twiml = handoff_twiml.whisper_then_number(
            offer_id, whisper, number, config.caller_id, config.urls
        )
        return Answer(twiml, event_id)
    kind = "Incoming call" if source == HandoffSource.INBOUND else "Booking call"
    whisper = handoff_twiml.render_with("staff/whisper", kind=kind, **values)
    twiml = handoff_twiml.whisper_then_queue(offer_id, handoff_id, whisper, config.urls)
    return Answer(twiml, event_id)


def offer_event(offer_id: int, kind: str, key: str, payload: dict[str, Any]) -> int | None:
    """Store a handler-leg callback (status, dial end, bridged); None for a replay. Raises
    ``LookupError`` for an offer we never made. The bridge (the ``<Queue url>`` / ``<Number url>``
    request, made as the two are connected) is also noted on the offer at once, so that every
    callback stored after it finds the patient bridged, whatever order the tasks run in."""
    with session_scope() as session:
        if session.scalar(select(HandoffOffer.id).where(HandoffOffer.id == offer_id)) is None:
            raise LookupError(f"offer {offer_id} does not exist")
        if kind == EventKind.OFFER_BRIDGED:
            session.execute(
                update(HandoffOffer)
                .where(HandoffOffer.id == offer_id)
                .values(
                    result=OfferResult.BRIDGED.value,
                    answered_at=func.coalesce(HandoffOffer.answered_at, now()),
                )
            )
        return _store(session, kind, key, payload, offer_id=offer_id)
