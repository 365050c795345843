"""Applying the stored callbacks of handoffs and handler offers (``events.apply_event`` routes
them here), each in its transaction under the handoff's lock (the referral's first, as every
writer of a referral's rows takes it).

What each tells us:

- ``offer-answer``: the handler picked up (for "call this patient now" the handler is then on
  the call: ``connected_at``, ``on_call``);
- ``offer-bridged`` (the ``<Queue url>`` request): the patient is being connected: handoff
  ``connected_at`` and ``handler_id``, the handler ``ringing → on_call``;
- ``offer-dial-end`` (DialCallStatus, DialCallDuration): the bridge is over: handoff
  ``ended_at``, ``talk_seconds``, the handler ``→ wrap_up``; or nobody was left in the queue:
  the handler is free again;
- ``offer-status`` (the handler leg's final status): never answered → the handler is made not
  ready (``away``) and the next handler is offered; otherwise the leg's end, should the Dial
  action have been lost;
- ``handoff-result`` (QueueResult): ``bridged`` (after the bridge: ended), ``hangup`` while
  waiting (abandoned, callback), ``leave``/``error`` (abandoned, callback);
- ``handoff-leave`` / ``handoff-callback-choice``: the wait ended in the web request; a handler
  still being rung for that patient is stopped;
- ``call-inbound``: a recognised caller has reached us: the referral is reached.

Every step is idempotent, and a handler is moved only by the event that changes the handoff
(or their own, current offer), so late or repeated callbacks change nothing.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from rmc_outreach.acd.connect import UNANSWERED, move_handler, not_answering
from rmc_outreach.acd.queueing import close_waiting
from rmc_outreach.events import EventKind, FollowUps, StoredEvent
from rmc_outreach.models import (
    Channel,
    HandlerState,
    Handoff,
    HandoffEndReason,
    HandoffOffer,
    HandoffSource,
    OfferResult,
    Referral,
)
from rmc_outreach.progress import reach

log = logging.getLogger(__name__)

HANDOFF_ID_FIELD = "rmc_handoff_id"
OFFER_ID_FIELD = "rmc_offer_id"
HANDOFF_EVENT_KINDS = frozenset(
    {
        EventKind.HANDOFF_LEAVE,
        EventKind.HANDOFF_CALLBACK_CHOICE,
        EventKind.HANDOFF_RESULT,
        EventKind.OFFER_ANSWER,
        EventKind.OFFER_BRIDGED,
        EventKind.OFFER_DIAL_END,
        EventKind.OFFER_STATUS,
        EventKind.CALL_INBOUND,
    }
)
ABANDONING_RESULTS = frozenset({"leave", "error", "system-error"})


def _int(value: Any) -> int | None:
    try:
        return int(str(value))
    except (TypeError, ValueError):
        return None


def _lock(session: Session, handoff_id: int) -> Handoff | None:
    referral_id = session.scalar(select(Handoff.referral_id).where(Handoff.id == handoff_id))
    if referral_id is not None:
        session.scalar(select(Referral.id).where(Referral.id == referral_id).with_for_update())
    return session.scalars(
        select(Handoff)
        .where(Handoff.id == handoff_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).first()


def _is_current_offer(session: Session, offer: HandoffOffer) -> bool:
    """Whether this is the handler's latest offer (so their state is about this call)."""
    latest = session.scalar(
        select(func.max(HandoffOffer.id)).where(HandoffOffer.handler_id == offer.handler_id)
    )
    return latest == offer.id


def _connect(session: Session, handoff: Handoff, offer: HandoffOffer, at: datetime) -> None:
    """The patient is bridged to the offer's handler (idempotent)."""
    offer.answered_at = offer.answered_at or at
    if handoff.ended_at is not None or handoff.connected_at is not None:
        if handoff.handler_id == offer.handler_id:
            offer.result = OfferResult.BRIDGED.value
        return
    handoff.connected_at = at
    handoff.handler_id = offer.handler_id
    offer.result = OfferResult.BRIDGED.value
    move_handler(session, offer.handler_id, HandlerState.ON_CALL, at=at)
    log.info("handoff %s bridged to handler %s", handoff.id, offer.handler_id)


def _end(
    session: Session,
    handoff: Handoff,
    at: datetime,
    *,
    talk_seconds: int | None,
    reason: HandoffEndReason = HandoffEndReason.BRIDGED_DONE,
) -> None:
    """The handler's call is over: the handoff ends and its handler goes to wrap-up."""
    if handoff.ended_at is not None:
        return
    handoff.ended_at = at
    handoff.ended_reason = reason.value
    if talk_seconds is None and handoff.connected_at is not None:
        talk_seconds = max(0, int((at - handoff.connected_at).total_seconds()))
    handoff.talk_seconds = talk_seconds
    for offer in session.scalars(
        select(HandoffOffer).where(
            HandoffOffer.handoff_id == handoff.id, HandoffOffer.ended_at.is_(None)
        )
    ):
        offer.ended_at = at
    if handoff.handler_id is not None:
        move_handler(session, handoff.handler_id, HandlerState.ON_CALL, HandlerState.WRAP_UP, at=at)
    log.info("handoff %s ended: %s", handoff.id, reason.value)


def _stop_ringing(session: Session, handoff: Handoff, at: datetime, follow_ups: FollowUps) -> None:
    """The patient is gone: stop ringing handlers for them; they are free again."""
    for offer in session.scalars(
        select(HandoffOffer).where(
            HandoffOffer.handoff_id == handoff.id,
            HandoffOffer.result.is_(None),
            HandoffOffer.ended_at.is_(None),
        )
    ):
        offer.result, offer.ended_at = OfferResult.CANCELED.value, at
        if _is_current_offer(session, offer):
            move_handler(session, offer.handler_id, HandlerState.AVAILABLE, at=at)
        if offer.call_sid:
            follow_ups.hang_up_calls.append(offer.call_sid)
        follow_ups.connect_handlers = True


def _queue_result(
    session: Session, handoff: Handoff, event: StoredEvent, follow_ups: FollowUps
) -> None:
    result, at = str(event.payload.get("QueueResult") or ""), event.received_at
    if result == "bridged":
        if handoff.connected_at is None:
            offer = session.scalars(
                select(HandoffOffer)
                .where(HandoffOffer.handoff_id == handoff.id, HandoffOffer.answered_at.is_not(None))
                .order_by(HandoffOffer.id.desc())
            ).first()
            if offer is not None:
                _connect(session, handoff, offer, at)
        if handoff.connected_at is not None:
            _end(session, handoff, at, talk_seconds=None)
        return
    if result == "hangup" and handoff.connected_at is not None:
        _end(session, handoff, at, talk_seconds=None)
        return
    if result == "hangup":
        close_waiting(session, handoff.id, HandoffEndReason.ABANDONED_HANGUP, at=at)
    elif result in ABANDONING_RESULTS:
        close_waiting(session, handoff.id, HandoffEndReason.ABANDONED_TIMEOUT, at=at)
    session.refresh(handoff)
    if handoff.ended_at is not None and handoff.connected_at is None:
        _stop_ringing(session, handoff, at, follow_ups)


def _dial_end(
    session: Session,
    handoff: Handoff,
    offer: HandoffOffer,
    event: StoredEvent,
    follow_ups: FollowUps,
) -> None:
    at = event.received_at
    status = str(event.payload.get("DialCallStatus") or "")
    duration = _int(event.payload.get("DialCallDuration")) or 0
    offer.ended_at = offer.ended_at or at
    if handoff.source == HandoffSource.CALLBACK:
        if handoff.connected_at is None and handoff.ended_at is None:  # the answer was lost
            handoff.connected_at = at - timedelta(seconds=duration)
            handoff.handler_id = offer.handler_id
        answered = status == "completed" or offer.result == OfferResult.BRIDGED
        reason = HandoffEndReason.BRIDGED_DONE if answered else HandoffEndReason.PATIENT_NOT_REACHED
        _end(session, handoff, at, talk_seconds=duration if answered else 0, reason=reason)
        return
    mine = handoff.connected_at is not None and handoff.handler_id == offer.handler_id
    if status == "completed" and (duration > 0 or mine):
        if handoff.connected_at is None:  # the bridge request was lost or is late
            _connect(session, handoff, offer, at - timedelta(seconds=duration))
        if handoff.handler_id == offer.handler_id:
            _end(session, handoff, at, talk_seconds=duration)
        return
    if mine:
        _end(session, handoff, at, talk_seconds=duration)
        return
    # The handler answered but nobody was left in the queue: free again, next patient.
    if _is_current_offer(session, offer):
        move_handler(session, offer.handler_id, HandlerState.AVAILABLE, at=at)
    follow_ups.connect_handlers = True


def _offer_status(
    session: Session,
    handoff: Handoff,
    offer: HandoffOffer,
    event: StoredEvent,
    follow_ups: FollowUps,
) -> None:
    at = event.received_at
    status = str(event.payload.get("CallStatus") or "")
    offer.ended_at = offer.ended_at or at
    if offer.answered_at is None and offer.result is None:
        offer.result = status if status in UNANSWERED else OfferResult.NO_ANSWER.value
        if _is_current_offer(session, offer):
            not_answering(session, offer.handler_id, at)
        if handoff.source == HandoffSource.CALLBACK:
            if handoff.ended_at is None:
                handoff.ended_at = at
                handoff.ended_reason = HandoffEndReason.HANDLER_NOT_REACHED.value
        else:
            follow_ups.connect_handlers = True
        log.info("offer %s not answered (%s)", offer.id, offer.result)
        return
    if offer.result in UNANSWERED:
        return
    if handoff.connected_at is not None and handoff.handler_id == offer.handler_id:
        reason = HandoffEndReason.BRIDGED_DONE
        if handoff.source == HandoffSource.CALLBACK and offer.result != OfferResult.BRIDGED:
            reason = HandoffEndReason.PATIENT_NOT_REACHED
        _end(session, handoff, at, talk_seconds=None, reason=reason)
        return
    if _is_current_offer(session, offer):
        move_handler(session, offer.handler_id, HandlerState.AVAILABLE, at=at)
    follow_ups.connect_handlers = True


def _offer_answer(session: Session, handoff: Handoff, offer: HandoffOffer, at: datetime) -> None:
    offer.answered_at = offer.answered_at or at
    if offer.result is None:
        offer.result = OfferResult.ANSWERED.value
    if (
        handoff.source == HandoffSource.CALLBACK
        and handoff.ended_at is None
        and handoff.connected_at is None
        and offer.result == OfferResult.ANSWERED
    ):
        # A handler ringing a patient back is on the call from the moment they answer.
        handoff.connected_at = at
        handoff.handler_id = offer.handler_id
        move_handler(session, offer.handler_id, HandlerState.ON_CALL, at=at)


def apply_handoff_event(session: Session, event: StoredEvent, follow_ups: FollowUps) -> None:
    """Apply one stored handoff or offer callback (see the module docstring)."""
    payload = event.payload
    offer: HandoffOffer | None = None
    offer_id = _int(payload.get(OFFER_ID_FIELD))
    if offer_id is not None:
        offer = session.get(HandoffOffer, offer_id)
        if offer is None:
            log.warning("event %s: offer %s does not exist", event.id, offer_id)
            return
        handoff_id: int | None = offer.handoff_id
    else:
        handoff_id = _int(payload.get(HANDOFF_ID_FIELD))
    handoff = _lock(session, handoff_id) if handoff_id is not None else None
    if handoff is None:
        log.warning("event %s: handoff %s does not exist", event.id, handoff_id)
        return
    if offer is not None:
        session.refresh(offer)
        _apply_offer_event(session, handoff, offer, event, follow_ups)
    elif event.kind == EventKind.HANDOFF_RESULT:
        _queue_result(session, handoff, event, follow_ups)
    elif event.kind in (EventKind.HANDOFF_LEAVE, EventKind.HANDOFF_CALLBACK_CHOICE):
        _stop_ringing(session, handoff, event.received_at, follow_ups)
    elif event.kind == EventKind.CALL_INBOUND and handoff.referral_id is not None:
        reach(session, handoff.referral_id, Channel.CALL, at=event.received_at)


def _apply_offer_event(
    session: Session,
    handoff: Handoff,
    offer: HandoffOffer,
    event: StoredEvent,
    follow_ups: FollowUps,
) -> None:
    if event.kind == EventKind.OFFER_ANSWER:
        _offer_answer(session, handoff, offer, event.received_at)
    elif event.kind == EventKind.OFFER_BRIDGED:
        if handoff.source == HandoffSource.CALLBACK:
            offer.result = OfferResult.BRIDGED.value  # the patient picked up
        else:
            _connect(session, handoff, offer, event.received_at)
    elif event.kind == EventKind.OFFER_DIAL_END:
        _dial_end(session, handoff, offer, event, follow_ups)
    elif event.kind == EventKind.OFFER_STATUS:
        _offer_status(session, handoff, offer, event, follow_ups)
