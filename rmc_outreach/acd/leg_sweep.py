"""Handlers' calls whose end never reached us: asked of the provider, never assumed.

A handler's leg (an offer's call) that was answered ends with its ``dial-end`` and final status
callbacks; the patient's side usually ends the handoff too. When every one of those callbacks is
lost (a callback for a "call this patient now" has no patient attempt to fall back on), the
handler would stay ``on_call`` for good: never offered another patient, unable to sign off. So
the sweeper asks the provider about every answered leg still open ``OPEN_LEG_CHECK_AFTER`` after
it was answered; a leg the provider reports as over is stored as the final status callback it
missed (the webhook's own key, so a late callback is a replay) and applied like any other. A leg
still in progress is left alone: long calls are normal.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from sqlalchemy import select

from rmc_outreach.acd.answers import offer_event
from rmc_outreach.db import session_scope
from rmc_outreach.engine_config import in_clock_time
from rmc_outreach.events import EventKind
from rmc_outreach.models import HandoffOffer
from rmc_outreach.telephony.base import TelephonyProvider
from rmc_outreach.telephony.errors import ProviderError

log = logging.getLogger(__name__)

# Final statuses of a handler's leg (the only ones its status callback subscribes to).
FINAL_LEG_STATUSES = frozenset({"completed", "busy", "no-answer", "failed", "canceled"})
# An answered leg still open this long after it was answered is asked about at each sweep.
OPEN_LEG_CHECK_AFTER = timedelta(minutes=5)


def offer_status_key(offer_id: int, status: str) -> str:
    """The event key of a handler leg's final status (the webhook's and the sweep's)."""
    return f"offer-status:{offer_id}:{status}"


def reconcile_open_legs(provider: TelephonyProvider, moment: datetime, *, limit: int) -> list[int]:
    """Ask the provider about answered handler legs open too long; store the final status of
    those it says are over. Returns the stored events' ids (to apply)."""
    with session_scope(read_only=True) as session:
        open_legs = session.execute(
            select(HandoffOffer.id, HandoffOffer.call_sid)
            .where(
                HandoffOffer.ended_at.is_(None),
                HandoffOffer.answered_at.is_not(None),
                HandoffOffer.answered_at < moment - in_clock_time(OPEN_LEG_CHECK_AFTER),
                HandoffOffer.call_sid.is_not(None),
            )
            .order_by(HandoffOffer.answered_at)
            .limit(limit)
        ).all()
    stored: list[int] = []
    for offer_id, call_sid in open_legs:
        if call_sid is None:  # pragma: no cover - the query asks for a call sid
            continue
        try:
            call = provider.fetch_call(call_sid)
        except ProviderError as error:
            log.warning("sweep: handler leg of offer %s not fetched (%s)", offer_id, error.reason)
            continue
        if call.status not in FINAL_LEG_STATUSES:
            continue
        payload = {"CallSid": call.sid, "CallStatus": call.status, "RmcSource": "sweep"}
        if call.duration_s is not None:
            payload["CallDuration"] = str(call.duration_s)
        try:
            event_id = offer_event(
                offer_id, EventKind.OFFER_STATUS, offer_status_key(offer_id, call.status), payload
            )
        except LookupError:
            continue
        if event_id is not None:
            log.info("sweep: handler leg of offer %s found %s", offer_id, call.status)
            stored.append(event_id)
    return stored
