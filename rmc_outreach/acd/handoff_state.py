"""The state machine of a patient waiting for a handler (outbound and inbound handoffs), in one
place: who gets the patient, the end of the hold wait or a handler.

States (columns of ``handoff``; the offer that took the patient is the one of ``handler_id``):

- **waiting**: ``connected_at`` and ``ended_at`` empty (``waiting()``);
- **taken**: ``connected_at`` and ``handler_id`` set by ``take``, in the request that answers the
  handler's leg (the only TwiML that dials the patient's queue); the offer is ``answered``;
- **bridged**: taken, and the carrier connected the two: the offer is ``bridged`` (the
  ``<Queue url>`` request, ``QueueResult=bridged`` or a Dial that talked);
- **ended**: ``ended_at`` set. After a bridge ``bridged_done``; never bridged, ``abandoned_timeout``
  or ``abandoned_hangup`` (abandoned, a callback request made) or ``callback_requested`` (the
  patient chose it: not abandoned, a callback request made). An ended handoff that was never
  bridged has no ``connected_at`` and no ``handler_id``.

Transitions:

- waiting → taken: ``take`` (the handler answered; the patient is still waiting);
- waiting → ended: ``close_waiting`` (hold wait over, hang-up, callback chosen, queue error);
  a patient whose handler's phone is ringing (``handler_ringing``) waits on past the hold wait
  for at most the ring timeout;
- taken → waiting: ``release`` (the handler's leg ended without a bridge: they hung up during the
  whisper, or the Dial found the queue empty) and ``release_expired`` (no bridge can still come);
- taken → ended: ``close_unbridged`` (the patient left before the bridge: abandoned);
- taken → bridged → ended: ``acd.apply`` (``_connect``, ``_end``);
- ended without a handler → bridged: ``reopen_bridged``. The carrier's report of a bridge is the
  fact: the patient reached a handler, so the call is not abandoned, and the callback request made
  when they were sent out is closed. (Through ``take`` this cannot happen; it covers a Dial given
  by an earlier version, or by hand.)

**The race.** The wait URL ends the wait (``<Leave/>``) and the handler's answer URL dials the
patient's queue (``<Dial><Queue>``) only after winning ``close_waiting`` or ``take``: both are
``UPDATE handoff ... WHERE <waiting>`` on the handoff's row, taken under its lock (``lock``:
``FOR UPDATE`` on PostgreSQL; SQLite's ``BEGIN IMMEDIATE`` serialises writers). Exactly one wins;
the loser answers TwiML that cannot bridge: the patient hears a pause (the handler is coming), or
the handler hears that the caller has gone. So Twilio never gets both for one handoff: once a Dial
is given, the patient stays in the queue however long they have waited; once ``<Leave/>`` is
given, no Dial follows. (Twilio bridges a patient dequeued while their wait URL is being asked,
whatever that URL then answers; and a Dial on an empty queue waits for its ``timeout``.)

Handlers are moved by ``acd.apply`` only (``handlers.change_state``); nothing here logs a phone
number or a name.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import ColumnElement, CursorResult, and_, select, update
from sqlalchemy.orm import Session

from rmc_outreach.clock import now
from rmc_outreach.engine_config import in_clock_time
from rmc_outreach.models import (
    CallbackRequest,
    ContactAttempt,
    Handoff,
    HandoffEndReason,
    HandoffOffer,
    HandoffSource,
    OfferResult,
    Patient,
    Referral,
)
from rmc_outreach.telephony.handoff_twiml import HANDLER_RING_TIMEOUT_S

log = logging.getLogger(__name__)

NO_HANDLER_REASON = "no_handler"  # as call_events.NO_HANDLER_REASON
PATIENT_ASKED_REASON = "patient_asked_in_queue"
# A callback request made when the patient was sent out, closed because they reached a handler.
REACHED_HANDLER_OUTCOME = "reached_handler"
ABANDONED_REASONS = frozenset(
    {HandoffEndReason.ABANDONED_TIMEOUT, HandoffEndReason.ABANDONED_HANGUP}
)
# After ``take``, the handler's leg dials the queue once the whisper is said, and a Dial on an
# empty queue gives up after ``handoff_twiml.DIAL_QUEUE_TIMEOUT_S``: a patient taken this long
# ago and still asking the wait URL (so not bridged) will not be bridged by that leg any more.
TAKEN_LIMIT = timedelta(seconds=45)


def waiting() -> ColumnElement[bool]:
    """The condition on ``Handoff``: a patient in a queue, not yet taken, not gone."""
    return and_(
        Handoff.connected_at.is_(None),
        Handoff.ended_at.is_(None),
        Handoff.source != HandoffSource.CALLBACK,
    )


def lock(session: Session, handoff_id: int) -> Handoff | None:
    """The handoff, locked for this transaction (its referral's row first, as every writer of a
    referral's rows takes it), read afresh; None when there is no such handoff."""
    referral_id = session.scalar(select(Handoff.referral_id).where(Handoff.id == handoff_id))
    if referral_id is not None:
        session.scalar(select(Referral.id).where(Referral.id == referral_id).with_for_update())
    return session.scalars(
        select(Handoff)
        .where(Handoff.id == handoff_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).first()


def _updated_one(result: Any) -> bool:
    return cast(CursorResult[Any], result).rowcount == 1


def take(session: Session, handoff: Handoff, offer: HandoffOffer, *, at: datetime) -> bool:
    """waiting → taken by the offer's handler (``handoff`` locked by the caller). False, with
    nothing written, when the patient is not waiting any more or the offer was withdrawn
    (cancelled because the patient left, expired as not answered)."""
    if offer.handoff_id != handoff.id or offer.result not in (None, OfferResult.ANSWERED):
        return False
    taken = _updated_one(
        session.execute(
            update(Handoff)
            .where(Handoff.id == handoff.id, waiting())
            .values(connected_at=at, handler_id=offer.handler_id)
            .execution_options(synchronize_session=False)
        )
    )
    session.refresh(handoff)
    if not taken:
        return False
    offer.answered_at = offer.answered_at or at
    offer.result = OfferResult.ANSWERED.value
    session.flush()
    log.info("handoff %s taken by handler %s (offer %s)", handoff.id, offer.handler_id, offer.id)
    return True


def taken_by(handoff: Handoff, offer: HandoffOffer) -> bool:
    """Whether the patient of a queued handoff was taken by (or bridged to) the offer's handler."""
    return (
        handoff.source != HandoffSource.CALLBACK
        and handoff.connected_at is not None
        and handoff.handler_id == offer.handler_id
    )


def taking_offer(session: Session, handoff: Handoff) -> HandoffOffer | None:
    """The offer whose handler took the patient (None while waiting, or never taken)."""
    if handoff.handler_id is None or handoff.source == HandoffSource.CALLBACK:
        return None
    return session.scalars(
        select(HandoffOffer)
        .where(HandoffOffer.handoff_id == handoff.id, HandoffOffer.handler_id == handoff.handler_id)
        .order_by(HandoffOffer.id.desc())
    ).first()


def is_bridged(session: Session, handoff: Handoff) -> bool:
    """Whether the patient was bridged to the handler who took them."""
    offer = taking_offer(session, handoff)
    return offer is not None and offer.result == OfferResult.BRIDGED


def release(session: Session, handoff: Handoff, offer: HandoffOffer, *, at: datetime) -> bool:
    """taken → waiting: the offer's leg ended without bridging the patient, who is (as far as we
    know) still in their queue. False when the patient was not taken by this offer's handler, was
    bridged, or has gone."""
    if not taken_by(handoff, offer) or handoff.ended_at is not None:
        return False
    if offer.result == OfferResult.BRIDGED:
        return False
    handoff.connected_at = None
    handoff.handler_id = None
    session.flush()
    log.info("handoff %s: handler %s's leg ended before the bridge", handoff.id, offer.handler_id)
    return True


def claim_expired(session: Session, handoff: Handoff, at: datetime) -> bool:
    """Whether the patient was taken so long ago, and still not bridged, that no bridge can come
    (``TAKEN_LIMIT``): e.g. every callback of the handler's leg was lost."""
    if handoff.ended_at is not None or handoff.connected_at is None:
        return False
    if handoff.connected_at > at - in_clock_time(TAKEN_LIMIT):
        return False
    return not is_bridged(session, handoff)


def release_expired(session: Session, handoff: Handoff, *, at: datetime) -> bool:
    """taken → waiting when the claim has expired (``claim_expired``; ``handoff`` locked);
    the offer is ended (its handler is left to the state machine of their own callbacks)."""
    offer = taking_offer(session, handoff)
    if offer is None or not claim_expired(session, handoff, at):
        return False
    offer.ended_at = offer.ended_at or at
    log.warning("handoff %s: no bridge after the handler took it; waiting again", handoff.id)
    return release(session, handoff, offer, at=at)


def handler_ringing(session: Session, handoff_id: int, at: datetime) -> bool:
    """Whether a handler's phone is ringing for the patient now: an offer not yet answered,
    ended or refused, made within the handler's ring timeout."""
    since = at - in_clock_time(timedelta(seconds=HANDLER_RING_TIMEOUT_S))
    offer = session.scalar(
        select(HandoffOffer.id)
        .where(
            HandoffOffer.handoff_id == handoff_id,
            HandoffOffer.result.is_(None),
            HandoffOffer.ended_at.is_(None),
            HandoffOffer.offered_at >= since,
        )
        .limit(1)
    )
    return offer is not None


def callback_phone(session: Session, handoff: Handoff) -> str | None:
    """The number to ring the patient back on: the number of the call they were on."""
    if handoff.attempt_id is not None:
        destination: str | None = session.scalar(
            select(ContactAttempt.destination).where(ContactAttempt.id == handoff.attempt_id)
        )
        if destination:
            return destination
    if handoff.caller_number:
        return handoff.caller_number
    return patient_number_to_call(session, handoff.referral_id)


def patient_number_to_call(session: Session, referral_id: int | None) -> str | None:
    """The referral's patient's number to call (``Patient.number_to_call``: only ever the
    landline of a landline-only patient); None without a referral or a number."""
    if referral_id is None:
        return None
    patient = session.scalar(
        select(Patient)
        .join(Referral, Referral.patient_id == Patient.id)
        .where(Referral.id == referral_id)
    )
    return patient.number_to_call if patient is not None else None


def close_waiting(
    session: Session, handoff_id: int, reason: HandoffEndReason, *, at: datetime | None = None
) -> bool:
    """waiting → ended, no handler took the patient (``reason``: a timeout, a hang-up, or the
    patient chose a callback), with its callback request (linked to the handoff); False (nothing
    written) when the patient was not waiting any more. Abandoned unless the patient chose the
    callback."""
    moment = at or now()
    chose_callback = reason is HandoffEndReason.CALLBACK_REQUESTED
    closed = _updated_one(
        session.execute(
            update(Handoff)
            .where(Handoff.id == handoff_id, waiting())
            .values(
                ended_at=moment,
                ended_reason=reason.value,
                abandoned=not chose_callback,
                outcome=HandoffEndReason.CALLBACK_REQUESTED.value if chose_callback else None,
            )
            .execution_options(synchronize_session=False)
        )
    )
    if not closed:
        return False
    handoff = session.get_one(Handoff, handoff_id, populate_existing=True)
    callback = CallbackRequest(
        referral_id=handoff.referral_id,
        reason=PATIENT_ASKED_REASON if chose_callback else NO_HANDLER_REASON,
        phone=callback_phone(session, handoff),
        created_at=moment,
        due_at=moment,
    )
    session.add(callback)
    session.flush()
    handoff.callback_request_id = callback.id
    session.flush()
    log.info("handoff %s left the queue: %s; callback requested", handoff_id, reason.value)
    return True


def close_unbridged(
    session: Session, handoff: Handoff, reason: HandoffEndReason, *, at: datetime
) -> bool:
    """waiting or taken (not bridged) → ended: the patient left the queue before reaching a
    handler (``handoff`` locked); as ``close_waiting``."""
    offer = taking_offer(session, handoff)
    if offer is not None:
        release(session, handoff, offer, at=at)
    closed = close_waiting(session, handoff.id, reason, at=at)
    session.refresh(handoff)
    return closed


def reopen_bridged(
    session: Session, handoff: Handoff, offer: HandoffOffer, *, at: datetime
) -> bool:
    """ended without a handler → bridged to the offer's handler (``handoff`` locked): the carrier
    reports that they were connected, so the patient reached a handler. Not abandoned; the
    callback request made when the wait ended is closed unless someone has claimed it. False when
    the handoff is not an ended, never-connected queued one."""
    if (
        handoff.source == HandoffSource.CALLBACK
        or handoff.ended_at is None
        or handoff.connected_at is not None
    ):
        return False
    was = handoff.ended_reason
    handoff.connected_at = at
    handoff.handler_id = offer.handler_id
    handoff.ended_at = None
    handoff.ended_reason = None
    handoff.abandoned = False
    if handoff.outcome == HandoffEndReason.CALLBACK_REQUESTED:
        handoff.outcome = None
    if handoff.callback_request_id is not None:
        callback = session.get(CallbackRequest, handoff.callback_request_id, with_for_update=True)
        if (
            callback is not None
            and callback.completed_at is None
            and callback.claimed_by_handler_id is None
        ):
            callback.completed_at = at
            callback.outcome = REACHED_HANDLER_OUTCOME
    offer.answered_at = offer.answered_at or at
    offer.result = OfferResult.BRIDGED.value
    session.flush()
    log.warning(
        "handoff %s: bridged to handler %s after it ended (%s); counted as reached, not abandoned",
        handoff.id,
        offer.handler_id,
        was,
    )
    return True
