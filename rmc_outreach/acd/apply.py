"""Applying the stored callbacks of handoffs and handler offers (``events.apply_event`` routes
them here), each in its transaction under the handoff's lock (the referral's first, as every
writer of a referral's rows takes it).

The handoff's states and the race between the end of the wait and a handler are
``acd.handoff_state``'s: the webhook answering the handler's leg takes the patient
(``connected_at``, ``handler_id``) before it dials their queue, and the wait URL ends the wait
only if nobody has.

What each tells us:

- ``offer-answer``: the handler picked up (for "call this patient now" the handler is then on
  the call: ``connected_at``, ``on_call``);
- ``offer-bridged`` (the ``<Queue url>`` request): the patient is being connected to the handler
  who took them: the offer ``bridged``, the handler ``ringing → on_call``. A bridge reported for
  a patient whose wait had ended is the fact: they reached the handler (``reopen_bridged``);
- ``offer-dial-end`` (DialCallStatus, DialCallDuration): the bridge is over: handoff
  ``ended_at``, ``talk_seconds``, the handler ``→ wrap_up``; or the Dial bridged nobody (the
  queue was empty): the handler is free again and the patient, if still there, waits again;
- ``offer-status`` (the handler leg's final status): never answered → the handler is made not
  ready (``away``) and the next handler is offered; answered but never bridged (hung up during
  the whisper) → free again, the patient waits again; otherwise the leg's end, should the Dial
  action have been lost;
- ``handoff-result`` (QueueResult): ``bridged`` (after the bridge: ended), ``hangup`` before a
  bridge (abandoned, callback, even if a handler had taken them), ``leave``/``error`` (abandoned,
  callback);
- ``handoff-leave`` / ``handoff-callback-choice``: the wait ended in the web request; a handler
  still being rung for that patient is stopped;
- ``call-inbound``: a recognised caller has reached us: the referral is reached.

Every step is idempotent, and a handler is moved only by the event that changes the handoff
(or their own, current offer), so late or repeated callbacks change nothing.
"""

from __future__ import annotations

import logging
import uuid
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from rmc_outreach import handlers
from rmc_outreach.acd import handoff_state
from rmc_outreach.acd.connect import UNANSWERED, move_handler, not_answering
from rmc_outreach.events import EventKind, FollowUps, StoredEvent
from rmc_outreach.models import (
    Channel,
    HandlerState,
    Handoff,
    HandoffEndReason,
    HandoffOffer,
    HandoffSource,
    OfferResult,
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
# Left the queue without a handler: sent out (``<Leave/>``, the information message follows),
# an error, a full queue, or the call redirected elsewhere by a REST update.
ABANDONING_RESULTS = frozenset({"leave", "error", "system-error", "queue-full", "redirected"})


def _int(value: Any) -> int | None:
    try:
        return int(str(value))
    except (TypeError, ValueError):
        return None


def _is_current_offer(session: Session, offer: HandoffOffer) -> bool:
    """Whether this is the handler's latest offer (so their state is about this call)."""
    latest = session.scalar(
        select(func.max(HandoffOffer.id)).where(HandoffOffer.handler_id == offer.handler_id)
    )
    return latest == offer.id


def _on_the_call(session: Session, offer: HandoffOffer, at: datetime) -> None:
    """The offer's handler is talking to the patient: ``on_call`` (through ``ringing`` when the
    end of the wait had freed them, if this is still their latest offer)."""
    handler = handlers.lock_handler(session, offer.handler_id)
    if handler.state is HandlerState.AVAILABLE and _is_current_offer(session, offer):
        move_handler(session, offer.handler_id, HandlerState.RINGING, HandlerState.ON_CALL, at=at)
    else:
        move_handler(session, offer.handler_id, HandlerState.ON_CALL, at=at)


def _connect(session: Session, handoff: Handoff, offer: HandoffOffer, at: datetime) -> None:
    """The carrier bridged the patient to the offer's handler (idempotent): the patient's wait
    is over for good, whatever had ended it."""
    offer.answered_at = offer.answered_at or at
    if handoff_state.taken_by(handoff, offer):
        offer.result = OfferResult.BRIDGED.value
        if handoff.ended_at is None:
            _on_the_call(session, offer, at)
        return
    if handoff.connected_at is not None:  # another handler has them: not this leg's patient
        log.warning(
            "handoff %s: bridge reported on offer %s of another handler", handoff.id, offer.id
        )
        return
    if handoff.ended_at is None:  # waiting: a Dial given without taking the patient first
        handoff.connected_at = at
        handoff.handler_id = offer.handler_id
        offer.result = OfferResult.BRIDGED.value
    elif not handoff_state.reopen_bridged(session, handoff, offer, at=at):
        return
    _on_the_call(session, offer, at)
    log.info("handoff %s bridged to handler %s", handoff.id, offer.handler_id)


def _end(
    session: Session,
    handoff: Handoff,
    at: datetime,
    follow_ups: FollowUps,
    *,
    talk_seconds: int | None,
    reason: HandoffEndReason = HandoffEndReason.BRIDGED_DONE,
) -> None:
    """The handler's call is over: the handoff ends and its handler goes to wrap-up, which
    pacing counts as free soon (``pace_now``)."""
    if handoff.ended_at is not None:
        return
    follow_ups.pace_now = True
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
        offer = (
            handoff_state.taking_offer(session, handoff)
            or session.scalars(
                select(HandoffOffer)
                .where(HandoffOffer.handoff_id == handoff.id, HandoffOffer.answered_at.is_not(None))
                .order_by(HandoffOffer.id.desc())
            ).first()
        )
        if offer is not None:
            _connect(session, handoff, offer, at)
        if handoff.connected_at is not None:
            _end(session, handoff, at, follow_ups, talk_seconds=None)
        return
    if handoff.connected_at is not None and handoff_state.is_bridged(session, handoff):
        # The patient hung up on the handler.
        _end(session, handoff, at, follow_ups, talk_seconds=None)
        return
    if result == "hangup":
        reason: HandoffEndReason | None = HandoffEndReason.ABANDONED_HANGUP
    elif result in ABANDONING_RESULTS:
        reason = HandoffEndReason.ABANDONED_TIMEOUT
    else:
        reason = None
    if reason is not None and handoff.ended_at is None:
        # Left before any bridge (even if a handler had taken them): abandoned. A Dial still
        # waiting on the empty queue ends at its timeout, and the handler is free again then.
        handoff_state.close_unbridged(session, handoff, reason, at=at)
    if handoff.ended_at is not None and handoff.connected_at is None:
        _stop_ringing(session, handoff, at, follow_ups)


def patient_call_ended(
    session: Session, attempt_id: uuid.UUID, at: datetime, follow_ups: FollowUps
) -> None:
    """The patient's outbound call ended while they still waited for a handler (the queue's own
    result not applied yet, or never sent): the wait is over, abandoned as a hang-up, and
    nobody is rung for them any more. Nothing for a patient bridged or already gone."""
    handoff_id = session.scalar(
        select(Handoff.id).where(Handoff.attempt_id == attempt_id, Handoff.ended_at.is_(None))
    )
    handoff = handoff_state.lock(session, handoff_id) if handoff_id is not None else None
    if handoff is None or handoff.ended_at is not None:
        return
    if handoff_state.is_bridged(session, handoff):
        return
    if handoff_state.close_unbridged(session, handoff, HandoffEndReason.ABANDONED_HANGUP, at=at):
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
        _end(
            session,
            handoff,
            at,
            follow_ups,
            talk_seconds=duration if answered else 0,
            reason=reason,
        )
        return
    bridged = offer.result == OfferResult.BRIDGED
    if status == "completed" and (duration > 0 or bridged):
        _connect(session, handoff, offer, at - timedelta(seconds=duration))
        if handoff.handler_id == offer.handler_id:
            _end(session, handoff, at, follow_ups, talk_seconds=duration)
        return
    if bridged and handoff_state.taken_by(handoff, offer):
        _end(session, handoff, at, follow_ups, talk_seconds=duration)
        return
    # The Dial bridged nobody (the patient had gone from the queue): the handler is free again,
    # and a patient they had taken waits again (if they hung up, their QueueResult ends it).
    handoff_state.release(session, handoff, offer, at=at)
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
    mine = handoff.connected_at is not None and handoff.handler_id == offer.handler_id
    if mine and handoff.source == HandoffSource.CALLBACK:
        reason = HandoffEndReason.BRIDGED_DONE
        if offer.result != OfferResult.BRIDGED:
            reason = HandoffEndReason.PATIENT_NOT_REACHED
        _end(session, handoff, at, follow_ups, talk_seconds=None, reason=reason)
        return
    if mine and offer.result == OfferResult.BRIDGED:
        _end(session, handoff, at, follow_ups, talk_seconds=None)
        return
    # Answered, never bridged (e.g. hung up during the whisper): free again; a patient they had
    # taken waits again.
    handoff_state.release(session, handoff, offer, at=at)
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
    handoff = handoff_state.lock(session, handoff_id) if handoff_id is not None else None
    if handoff is None:
        log.warning("event %s: handoff %s does not exist", event.id, handoff_id)
        return
    if offer is not None:
        session.refresh(offer)
        _apply_offer_event(session, handoff, offer, event, follow_ups)
    elif event.kind == EventKind.HANDOFF_RESULT:
        _queue_result(session, handoff, event, follow_ups)
    elif event.kind in (EventKind.HANDOFF_LEAVE, EventKind.HANDOFF_CALLBACK_CHOICE):
        if handoff.ended_at is not None and handoff.connected_at is None:
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
