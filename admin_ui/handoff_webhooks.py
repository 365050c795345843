"""Twilio webhooks of the ACD: a patient waiting in their own queue, the handler's leg, and
calls to our number.

These routes are on the same blueprint as ``admin_ui.webhooks`` (so the same signature check
refuses anything not signed by Twilio over the public URL). Each callback that records a fact is
stored once under a unique key (a replay stores nothing and enqueues nothing), the TwiML is
answered at once, and ``apply-provider-event`` applies the fact after the commit; when a
patient starts waiting or a handler may be free, ``connect-handlers`` is enqueued too.
"""

from __future__ import annotations

import logging

from flask import Response, request

from admin_ui.webhooks import (
    APPLY_PROVIDER_EVENT,
    CONNECT_HANDLERS,
    blueprint,
    enqueue_task,
    twiml_response,
    webhook_config,
)
from rmc_outreach.acd import answers
from rmc_outreach.acd.leg_sweep import FINAL_LEG_STATUSES, offer_status_key
from rmc_outreach.events import EventKind
from rmc_outreach.telephony import handoff_twiml

log = logging.getLogger(__name__)


def _respond(answer: answers.Answer | None) -> Response:
    if answer is None:  # a handoff or offer we never made
        return twiml_response(handoff_twiml.hang_up())
    if answer.event_id is not None:
        enqueue_task(APPLY_PROVIDER_EVENT, answer.event_id)
    if answer.connect_handlers:
        enqueue_task(CONNECT_HANDLERS)
    return twiml_response(answer.twiml)


def _form() -> dict[str, str]:
    return request.form.to_dict(flat=True)


@blueprint.post("/voice/inbound")
def voice_inbound() -> Response:
    """A patient calls our number: greeted, recognised by number when unambiguous, queued."""
    return _respond(answers.queue_inbound(_form(), webhook_config()))


@blueprint.post("/handoff/<int:handoff_id>/wait")
def handoff_wait(handoff_id: int) -> Response:
    """Enqueue waitUrl: the patient's place and the callback choice; out after the hold wait."""
    return _respond(answers.wait(handoff_id, _form(), webhook_config()))


@blueprint.post("/handoff/<int:handoff_id>/wait-choice")
def handoff_wait_choice(handoff_id: int) -> Response:
    """A key pressed while waiting: 1 for a callback instead."""
    return _respond(answers.wait_choice(handoff_id, _form(), webhook_config()))


@blueprint.post("/handoff/<int:handoff_id>/result")
def handoff_result(handoff_id: int) -> Response:
    """Enqueue action: why the patient left the queue, and what they hear now."""
    return _respond(answers.queue_result(handoff_id, _form(), webhook_config()))


@blueprint.post("/offer/<int:offer_id>/answer")
def offer_answer(offer_id: int) -> Response:
    """The handler picked up: the whisper, then the bridge."""
    return _respond(answers.offer_answer(offer_id, _form(), webhook_config()))


def _store_offer_event(offer_id: int, kind: str, key: str) -> bool:
    try:
        event_id = answers.offer_event(offer_id, kind, key, _form())
    except LookupError:
        log.warning("callback for unknown offer %s ignored", offer_id)
        return False
    if event_id is not None:
        enqueue_task(APPLY_PROVIDER_EVENT, event_id)
    return True


@blueprint.post("/offer/<int:offer_id>/status")
def offer_status(offer_id: int) -> tuple[str, int]:
    """The handler leg's final status (we subscribe to nothing else)."""
    status = request.form.get("CallStatus", "")
    if status in FINAL_LEG_STATUSES:
        _store_offer_event(offer_id, EventKind.OFFER_STATUS, offer_status_key(offer_id, status))
    return "", 204


@blueprint.post("/offer/<int:offer_id>/dial-end")
def offer_dial_end(offer_id: int) -> Response:
    """Dial action on the handler's leg: the bridge is over; the handler's leg ends."""
    _store_offer_event(offer_id, EventKind.OFFER_DIAL_END, f"offer-dial-end:{offer_id}")
    return twiml_response(handoff_twiml.hang_up())


@blueprint.post("/offer/<int:offer_id>/bridged")
def offer_bridged(offer_id: int) -> Response:
    """``<Queue url>`` / ``<Number url>``: requested on the patient's side as they are connected
    to the handler (its TwiML plays to them first: nothing, so they are connected at once)."""
    _store_offer_event(offer_id, EventKind.OFFER_BRIDGED, f"offer-bridged:{offer_id}")
    return twiml_response(handoff_twiml.empty())
