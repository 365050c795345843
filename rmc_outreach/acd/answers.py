"""What the ACD's webhooks answer, and what they store, in one small transaction each.

Each function stores the callback once (``events.record_event``; a replay stores nothing and
returns no event id, so nothing is enqueued twice) and returns the TwiML Twilio must get now.
The database work here is only what the answer depends on (the patient's place, whether the
patient is still waiting, the referral for the whisper); the rest is applied by a task
(``acd.apply``).
"""

from __future__ import annotations

import logging
import re
import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from rmc_outreach.acd.apply import HANDOFF_ID_FIELD, OFFER_ID_FIELD
from rmc_outreach.acd.connect import callback_number
from rmc_outreach.acd.queueing import (
    close_waiting,
    inbound_handoff,
    outbound_handoff,
    position,
)
from rmc_outreach.db import session_scope
from rmc_outreach.engine_config import EngineConfig
from rmc_outreach.events import EventKind, record_event
from rmc_outreach.models import (
    CallbackRequest,
    Handoff,
    HandoffEndReason,
    HandoffOffer,
    HandoffSource,
    Priority,
    Referral,
)
from rmc_outreach.telephony import handoff_twiml

log = logging.getLogger(__name__)

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


def wait(handoff_id: int, payload: dict[str, Any], config: EngineConfig) -> Answer | None:
    """The wait URL: the patient's place and the callback choice while a handler may still
    come; after the hold wait, out of the queue (no handler in time). None: no such handoff."""
    remaining_s = int(config.hold_wait.total_seconds()) - _queue_time(payload)
    if remaining_s <= 0:
        with session_scope() as session:
            if session.get(Handoff, handoff_id) is None:
                return None
            if close_waiting(session, handoff_id, HandoffEndReason.ABANDONED_TIMEOUT):
                event_id = _store(
                    session,
                    EventKind.HANDOFF_LEAVE,
                    f"handoff-leave:{handoff_id}",
                    payload,
                    handoff_id=handoff_id,
                )
                return Answer(handoff_twiml.leave_queue(), event_id)
    with session_scope(read_only=True) as session:
        if session.get(Handoff, handoff_id) is None:
            return None
        place = position(session, handoff_id)
    if place is None:  # being connected, or already out of the queue
        return Answer(handoff_twiml.quiet())
    pause_s = max(1, min(config.hold_pause_s, remaining_s))
    return Answer(
        handoff_twiml.waiting(handoff_id, place, pause_s, config.public_context, config.urls)
    )


def wait_choice(handoff_id: int, payload: dict[str, Any], config: EngineConfig) -> Answer | None:
    """A key pressed while waiting: 1 asks for a callback instead (the patient chose: not
    abandoned); anything else, back to waiting."""
    digit = str(payload.get("Digits") or "").strip()
    if digit != handoff_twiml.CALLBACK_DIGIT:
        return wait(handoff_id, payload, config)
    with session_scope() as session:
        if session.get(Handoff, handoff_id) is None:
            return None
        if not close_waiting(session, handoff_id, HandoffEndReason.CALLBACK_REQUESTED):
            return Answer(handoff_twiml.quiet())
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


def offer_answer(offer_id: int, payload: dict[str, Any], config: EngineConfig) -> Answer | None:
    """The handler picked up: the whisper, then the bridge (``<Dial><Queue>`` for a waiting
    patient, ``<Dial><Number>`` for a callback); or, when the patient is gone, say so."""
    with session_scope() as session:
        offer = session.get(HandoffOffer, offer_id)
        if offer is None:
            return None
        handoff = session.get_one(Handoff, offer.handoff_id)
        event_id = _store(
            session, EventKind.OFFER_ANSWER, f"offer-answer:{offer_id}", payload, offer_id=offer_id
        )
        values = _whisper_values(session, handoff)
        gone = (
            offer.result is not None
            or handoff.ended_at is not None
            or (handoff.connected_at is not None and handoff.source != HandoffSource.CALLBACK)
        )
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
    ``LookupError`` for an offer we never made."""
    with session_scope() as session:
        if session.scalar(select(HandoffOffer.id).where(HandoffOffer.id == offer_id)) is None:
            raise LookupError(f"offer {offer_id} does not exist")
        return _store(session, kind, key, payload, offer_id=offer_id)
