"""Offering waiting patients to handlers, and "call this patient now".

``connect_waiting`` pairs the longest-waiting patient with the longest-idle available handler
who has not been offered that patient yet, one pair per transaction: the handoff row and the
handler row are taken with ``SKIP LOCKED`` on PostgreSQL (SQLite serialises writers), the
handler goes to ``ringing`` and a ``HandoffOffer`` row is written; commit; then, with no session
open, the provider rings the handler (no answering-machine detection, final status only); the
call sid is recorded after. Offers nobody ever heard back about are expired so a lost callback
cannot leave a handler ringing for ever.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, exists, or_, select, update
from sqlalchemy.orm import Session

from rmc_outreach import handlers
from rmc_outreach.acd import handoff_state
from rmc_outreach.acd.errors import (
    CallAlreadyUnderWay,
    CallbackCompleted,
    CallbackNotClaimed,
    CallbackNotFound,
    CallNotPlaced,
    HandlerNotAvailable,
    HandlerUnknown,
    NoNumberToCall,
    OutsideCallingWindow,
)
from rmc_outreach.acd.handoff_state import patient_number_to_call
from rmc_outreach.acd.queueing import waiting
from rmc_outreach.clock import now
from rmc_outreach.db import session_scope
from rmc_outreach.engine_config import EngineConfig, in_clock_time
from rmc_outreach.models import (
    CallbackRequest,
    HandlerState,
    Handoff,
    HandoffEndReason,
    HandoffOffer,
    HandoffSource,
    OfferResult,
)
from rmc_outreach.phones import is_fictional
from rmc_outreach.telephony.base import HandlerCallRequest, TelephonyProvider
from rmc_outreach.telephony.errors import PermanentProviderError, ProviderError
from rmc_outreach.telephony.handoff_twiml import HANDLER_RING_TIMEOUT_S

log = logging.getLogger(__name__)

# How many handoffs one pairing looks at for one with a handler left to offer.
CANDIDATES = 20
# Most pairs made by one run of connect-handlers (the next run carries on).
MAX_PAIRS_PER_RUN = 50
# A ringing offer with no news this long after the handler's ring timeout is taken as unanswered.
OFFER_NEWS_GRACE = timedelta(seconds=30)
# A waiting handoff older than the hold wait plus this is a lost call, never offered.
WAITING_GRACE = timedelta(minutes=2)
UNANSWERED = (OfferResult.NO_ANSWER, OfferResult.BUSY, OfferResult.FAILED, OfferResult.CANCELED)


@dataclass(frozen=True)
class Ring:
    """A handler to ring for a handoff: decided and committed, not yet placed."""

    offer_id: int
    handoff_id: int
    handler_id: int
    endpoint: str


def move_handler(session: Session, handler_id: int, *path: HandlerState, at: datetime) -> bool:
    """Move a handler along ``path`` through ``handlers.change_state`` (each step recorded);
    stops, and returns False, at the first step the state machine refuses (e.g. the handler
    signed off meanwhile)."""
    for state in path:
        handler = handlers.lock_handler(session, handler_id)
        if handler.state is state:
            continue
        if not handlers.can_change(handler.state, state):
            log.info("handler %s stays %s (not %s)", handler_id, handler.state.value, state.value)
            return False
        handlers.change_state(session, handler_id, state, at=at)
    return True


def not_answering(session: Session, handler_id: int, at: datetime) -> None:
    """A handler who did not answer is made not ready (``away``), as real ACDs do; the state
    machine goes through ``available``, so both changes are recorded. Only while they are still
    ringing: news of the missed ring can arrive after the handler has already made themselves
    available again (or signed off), and their own later choice stands."""
    handler = handlers.lock_handler(session, handler_id)
    if handler.state is not HandlerState.RINGING:
        log.info("handler %s missed a ring but is %s now: left so", handler_id, handler.state.value)
        return
    move_handler(session, handler_id, HandlerState.AVAILABLE, HandlerState.AWAY, at=at)


def outstanding_offer() -> ColumnElement[bool]:
    """The condition on ``Handoff``: a handler's leg for it is still ringing or connected."""
    return exists().where(
        HandoffOffer.handoff_id == Handoff.id,
        HandoffOffer.ended_at.is_(None),
        or_(HandoffOffer.result.is_(None), HandoffOffer.result.not_in(list(UNANSWERED))),
    )


def _pair_next(session: Session, config: EngineConfig) -> Ring | None:
    moment = now()
    candidates = session.scalars(
        select(Handoff.id)
        .where(
            waiting(),
            Handoff.queued_at >= moment - config.hold_wait - WAITING_GRACE,
            ~outstanding_offer(),
        )
        .order_by(Handoff.queued_at, Handoff.id)
        .limit(CANDIDATES)
    ).all()
    for handoff_id in candidates:
        locked = session.scalar(
            select(Handoff.id)
            .where(Handoff.id == handoff_id, waiting())
            .with_for_update(skip_locked=True)
        )
        if locked is None:  # another worker is pairing it, or it stopped waiting
            continue
        offered = session.scalars(
            select(HandoffOffer.handler_id).where(HandoffOffer.handoff_id == handoff_id)
        ).all()
        handler = handlers.longest_idle_available(session, exclude=set(offered))
        if handler is None:
            continue
        handlers.change_state(session, handler.id, HandlerState.RINGING, at=moment)
        offer = HandoffOffer(handoff_id=handoff_id, handler_id=handler.id, offered_at=moment)
        session.add(offer)
        session.flush()
        log.info("handoff %s offered to handler %s (offer %s)", handoff_id, handler.id, offer.id)
        return Ring(offer.id, handoff_id, handler.id, handler.endpoint)
    return None


def _offer_not_placed(session: Session, offer_id: int, *, handler_at_fault: bool) -> None:
    moment = now()
    offer = session.get_one(HandoffOffer, offer_id)
    handoff = session.scalars(
        select(Handoff).where(Handoff.id == offer.handoff_id).with_for_update()
    ).one()
    offer.result = OfferResult.FAILED.value
    offer.ended_at = moment
    if handler_at_fault:  # an endpoint the provider refuses: not ready until someone fixes it
        not_answering(session, offer.handler_id, moment)
    else:
        move_handler(session, offer.handler_id, HandlerState.AVAILABLE, at=moment)
    if handoff.source == HandoffSource.CALLBACK and handoff.ended_at is None:
        handoff.ended_at = moment
        handoff.ended_reason = HandoffEndReason.HANDLER_NOT_REACHED.value


def ring(ring: Ring, provider: TelephonyProvider, config: EngineConfig) -> bool:
    """Ring the handler of a committed offer (no session open during the provider call);
    records the call sid, or the failure. Returns whether the call was placed."""
    request = HandlerCallRequest(
        to=ring.endpoint,
        caller_id=config.caller_id,
        answer_url=config.urls.offer_answer(ring.offer_id),
        status_callback_url=config.urls.offer_status(ring.offer_id),
        ring_timeout_s=HANDLER_RING_TIMEOUT_S,
    )
    try:
        call = provider.place_handler_call(request)
    except ProviderError as error:
        log.warning("offer %s: handler not rung (%s)", ring.offer_id, error.reason)
        with session_scope() as session:
            _offer_not_placed(
                session, ring.offer_id, handler_at_fault=isinstance(error, PermanentProviderError)
            )
        return False
    with session_scope() as session:
        session.execute(
            update(HandoffOffer)
            .where(HandoffOffer.id == ring.offer_id, HandoffOffer.call_sid.is_(None))
            .values(call_sid=call.sid)
        )
    return True


def expire_unanswered_offers(config: EngineConfig) -> int:
    """Offers still ringing long after the ring timeout (their status callback was lost): the
    handler did not answer. Returns how many were expired."""
    limit = now() - in_clock_time(timedelta(seconds=HANDLER_RING_TIMEOUT_S) + OFFER_NEWS_GRACE)
    with session_scope() as session:
        stale = session.scalars(
            select(HandoffOffer.id).where(
                HandoffOffer.result.is_(None),
                HandoffOffer.answered_at.is_(None),
                HandoffOffer.ended_at.is_(None),
                HandoffOffer.offered_at < limit,
            )
        ).all()
        for offer_id in stale:
            offer = session.get_one(HandoffOffer, offer_id)
            # The referral's row, then the handoff's, as every writer of a referral's rows
            # takes them (``handoff_state.lock``), so this sweep cannot deadlock with one.
            handoff = handoff_state.lock(session, offer.handoff_id)
            if handoff is None:
                continue
            session.refresh(offer)
            if offer.result is not None or offer.answered_at is not None:
                continue
            moment = now()
            offer.result, offer.ended_at = OfferResult.NO_ANSWER.value, moment
            not_answering(session, offer.handler_id, moment)
            if handoff.source == HandoffSource.CALLBACK and handoff.ended_at is None:
                handoff.ended_at = moment
                handoff.ended_reason = HandoffEndReason.HANDLER_NOT_REACHED.value
        return len(stale)


def hang_up_handler_calls(call_sids: list[str], provider: TelephonyProvider) -> None:
    """Stop handler calls still ringing for a patient who has gone (no session open)."""
    for sid in call_sids:
        try:
            provider.hang_up(sid)
        except ProviderError as error:  # most often it had ended already
            log.info("handler call not hung up (%s)", error.reason)


def connect_waiting(config: EngineConfig, provider: TelephonyProvider) -> int:
    """Offer waiting patients to available handlers, longest waiting to longest idle, and ring
    each handler; returns how many handlers were rung."""
    expire_unanswered_offers(config)
    rung = 0
    for _ in range(MAX_PAIRS_PER_RUN):
        with session_scope() as session:
            pair = _pair_next(session, config)
        if pair is None:
            break
        if ring(pair, provider, config):
            rung += 1
    return rung


def callback_number(session: Session, callback: CallbackRequest) -> str | None:
    """The number to ring for a callback request: its own, else the patient's."""
    if callback.phone:
        return callback.phone
    return patient_number_to_call(session, callback.referral_id)


def _claim_callback_call(
    session: Session, callback_id: int, handler_id: int, config: EngineConfig
) -> Ring:
    moment = now()
    callback = session.scalars(
        select(CallbackRequest).where(CallbackRequest.id == callback_id).with_for_update()
    ).first()
    if callback is None:
        raise CallbackNotFound(f"callback request {callback_id} does not exist")
    if callback.completed_at is not None:
        raise CallbackCompleted(f"callback request {callback_id} is already done")
    if callback.claimed_by_handler_id != handler_id:
        raise CallbackNotClaimed(f"handler {handler_id} has not claimed callback {callback_id}")
    number = callback_number(session, callback)
    if not number or (config.production and is_fictional(number)):
        raise NoNumberToCall(f"callback request {callback_id} has no number to ring")
    under_way = session.scalar(
        select(Handoff.id).where(
            Handoff.callback_request_id == callback_id,
            Handoff.source == HandoffSource.CALLBACK,
            Handoff.ended_at.is_(None),
        )
    )
    if under_way is not None:
        raise CallAlreadyUnderWay(f"a call for callback request {callback_id} is under way")
    try:
        handler = handlers.lock_handler(session, handler_id)
    except handlers.HandlerNotFound:
        raise HandlerUnknown(f"handler {handler_id} does not exist") from None
    if handler.state is not HandlerState.AVAILABLE:
        raise HandlerNotAvailable(f"handler {handler_id} is {handler.state.value}")
    handlers.change_state(session, handler_id, HandlerState.RINGING, at=moment)
    handoff = Handoff(
        referral_id=callback.referral_id,
        handler_id=handler_id,
        source=HandoffSource.CALLBACK.value,
        callback_request_id=callback_id,
        queued_at=moment,
        abandoned=False,
    )
    session.add(handoff)
    session.flush()
    offer = HandoffOffer(handoff_id=handoff.id, handler_id=handler_id, offered_at=moment)
    session.add(offer)
    session.flush()
    return Ring(offer.id, handoff.id, handler_id, handler.endpoint)


def call_patient_now(
    callback_id: int, handler_id: int, provider: TelephonyProvider, config: EngineConfig
) -> int:
    """Ring the handler first, then (from their answer) the patient of a callback request they
    have claimed; a handler is guaranteed, so this is never an abandoned call. Only inside the
    calling window. Returns the offer id; raises a ``CallPatientRefused`` (nothing written) or
    ``CallNotPlaced`` (the failure is recorded)."""
    if not config.window.is_open(now()):
        raise OutsideCallingWindow("patients are only rung inside the calling window")
    with session_scope() as session:
        pair = _claim_callback_call(session, callback_id, handler_id, config)
    log.info(
        "callback %s: handler %s rung first (offer %s)", callback_id, handler_id, pair.offer_id
    )
    if not ring(pair, provider, config):
        raise CallNotPlaced(f"the call to handler {handler_id} could not be placed")
    return pair.offer_id
