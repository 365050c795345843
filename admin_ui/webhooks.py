"""Twilio webhooks and TwiML: verify, store once, answer fast, apply in a task.

Every request must carry a valid ``X-Twilio-Signature`` computed over the *public* URL
(``PUBLIC_BASE_URL`` + path + query: never the Host the client sent); anything else gets 403 and
nothing is written. Each callback is stored once under a unique key (a replay stores nothing and
enqueues nothing); ``apply-provider-event`` is enqueued with the event id after the transaction
commits. Voice requests answer TwiML at once; status callbacks answer 204.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from typing import Any

from flask import Blueprint, Flask, Response, abort, current_app, request
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from twilio.request_validator import RequestValidator
from twilio.twiml.messaging_response import MessagingResponse

from admin_ui.context import current_settings
from rmc_outreach import handlers, inbound_sms
from rmc_outreach.acd import answers
from rmc_outreach.call_events import (
    CALL_BACK_OFFERED,
    NOT_NEEDED,
    OFFERED,
    SPEAK_TO_TEAM,
    TEXT_ME,
    may_text,
)
from rmc_outreach.db import session_scope
from rmc_outreach.engine_config import EngineConfig, engine_config
from rmc_outreach.events import (
    EventKind,
    amd_key,
    call_status_key,
    needs_prompt_apply,
    record_event,
    sms_status_key,
)
from rmc_outreach.models import ContactAttempt, Patient, Referral
from rmc_outreach.settings_store.live import live_settings
from rmc_outreach.telephony import hold, twiml

log = logging.getLogger(__name__)

blueprint = Blueprint("twilio_webhooks", __name__, url_prefix="/twilio")

ENQUEUE_EXTENSION = "rmc_outreach.enqueue"
ENGINE_CONFIG_EXTENSION = "rmc_outreach.engine_config"
APPLY_PROVIDER_EVENT = "apply-provider-event"  # workers.queues.TaskNames.APPLY_PROVIDER_EVENT
CONNECT_HANDLERS = "connect-handlers"  # workers.queues.TaskNames.CONNECT_HANDLERS
TWIML_MIMETYPE = "application/xml"

Enqueue = Callable[[str, list[Any]], None]


def celery_enqueue(task_name: str, args: list[Any]) -> None:
    """Publish a task by name on the worker's Celery app (routed to its queue by name)."""
    from workers.celery_app import app as celery_app

    celery_app.send_task(task_name, args=args)


def install(app: Flask) -> None:
    """Give the app what the webhooks need: the engine config and how tasks are enqueued."""
    settings = app.extensions["rmc_outreach.settings"]
    app.extensions.setdefault(ENGINE_CONFIG_EXTENSION, engine_config(settings))
    app.extensions.setdefault(ENQUEUE_EXTENSION, celery_enqueue)


def webhook_config() -> EngineConfig:
    """The engine configuration the webhooks answer with: the app's, with the settings an admin
    has stored over it (``rmc_outreach.settings_store.live``)."""
    config: EngineConfig = current_app.extensions[ENGINE_CONFIG_EXTENSION]
    return live_settings.applied(config)


_config = webhook_config


def enqueue_task(task_name: str, *args: Any) -> None:
    """Publish a task after the request's transaction has committed (a lost publish is made
    good by the sweeper or the next beat)."""
    enqueue: Enqueue = current_app.extensions[ENQUEUE_EXTENSION]
    try:
        enqueue(task_name, list(args))
    except Exception:  # the sweeper applies stored events whose enqueue was lost
        log.exception("could not enqueue %s; the sweeper will pick it up", task_name)


def public_url() -> str:
    """The URL Twilio signed: our public base URL, the path and the query string."""
    url = current_settings().public_base_url.rstrip("/") + request.path
    query = request.query_string.decode("utf-8")
    return f"{url}?{query}" if query else url


@blueprint.before_request
def verify_twilio_signature() -> None:
    """403 unless the request is signed by Twilio with our auth token over the public URL."""
    token = current_settings().twilio_auth_token
    signature = request.headers.get("X-Twilio-Signature", "")
    if not token or not signature:
        abort(403)
    if not RequestValidator(token).validate(public_url(), request.form, signature):
        log.warning("webhook with a bad signature refused: %s", request.path)
        abort(403)


def twiml_response(document: str) -> Response:
    """A TwiML answer."""
    return Response(document, mimetype=TWIML_MIMETYPE)


_twiml = twiml_response
_enqueue = enqueue_task


def _store(
    kind: str,
    key: str,
    attempt_id: uuid.UUID | None,
    sid: str | None,
    ours: dict[str, str] | None = None,
) -> tuple[int | None, bool]:
    """Store the callback once; returns (event id or None on replay, whether the attempt exists).

    One statement: the foreign key refuses a callback for an attempt we never made. A task to
    apply it is enqueued after the commit when it decides something now
    (``events.needs_prompt_apply``); a callback that only records a fact is applied with the
    next one of its attempt. ``ours``: what we answered, stored beside Twilio's fields (keys
    starting ``Rmc``) so the task applies the choice the patient was offered.
    """
    payload = request.form.to_dict(flat=True) | (ours or {})
    try:
        with session_scope() as session:
            event_id = record_event(
                session,
                event_key=key,
                kind=kind,
                payload=payload,
                attempt_id=attempt_id,
                provider_sid=sid,
            )
    except IntegrityError:
        log.warning("callback for unknown attempt %s ignored", attempt_id)
        return None, False
    if event_id is not None and needs_prompt_apply(kind, payload):
        _enqueue(APPLY_PROVIDER_EVENT, event_id)
    return event_id, True


def _call_sid() -> str:
    return request.form.get("CallSid", "")


@blueprint.post("/voice/<uuid:attempt_id>/answer")
def call_answered(attempt_id: uuid.UUID) -> Response:
    """The call was answered: who is calling, why, and the keypad options."""
    _, known = _store(EventKind.CALL_ANSWER, f"answer:{_call_sid()}", attempt_id, _call_sid())
    if not known:
        return _twiml(twiml.hang_up())
    config = _config()
    # A call started with nobody signed in offers a call back whoever signs in meanwhile.
    live_team = request.args.get("offer") != CALL_BACK_OFFERED and _live_team()
    return _twiml(
        twiml.greeting(attempt_id, config.public_context, config.urls, live_team=live_team)
    )


def _live_team() -> bool:
    """Whether key 1 offers a handler now (someone is signed in) or a call back."""
    with session_scope(read_only=True) as session:
        return handlers.any_signed_in(session)


@blueprint.post("/voice/<uuid:attempt_id>/status")
def call_status(attempt_id: uuid.UUID) -> tuple[str, int]:
    """Call progress: initiated, ringing, in-progress, completed (or busy, no-answer...)."""
    form = request.form
    key = call_status_key(_call_sid(), form.get("CallStatus", ""), form.get("SequenceNumber", ""))
    _store(EventKind.CALL_STATUS, key, attempt_id, _call_sid())
    return "", 204


@blueprint.post("/voice/<uuid:attempt_id>/amd")
def call_amd(attempt_id: uuid.UUID) -> tuple[str, int]:
    """Asynchronous answering-machine detection result; a task leaves the voicemail."""
    _store(EventKind.CALL_AMD, amd_key(_call_sid()), attempt_id, _call_sid())
    return "", 204


def _patient_may_get_sms(attempt_id: uuid.UUID) -> bool:
    with session_scope(read_only=True) as session:
        patient = session.scalars(
            select(Patient)
            .join(Referral, Referral.patient_id == Patient.id)
            .join(ContactAttempt, ContactAttempt.referral_id == Referral.id)
            .where(ContactAttempt.id == attempt_id)
        ).first()
        return patient is not None and may_text(patient)


@blueprint.post("/voice/<uuid:attempt_id>/choice")
def call_choice(attempt_id: uuid.UUID) -> Response:
    """The keypad choice (Gather action): 1 team, 2 text me, 3 not needed, else options again."""
    try:
        round_number = max(1, int(request.args.get("round", "1")))
    except ValueError:
        round_number = 1
    digit = request.form.get("Digits", "").strip()
    config = _config()
    queued = None
    # What key 1 was offered when the options were read out: the patient gets what they heard.
    live_team = request.args.get("offer") != CALL_BACK_OFFERED
    if digit == SPEAK_TO_TEAM and live_team:
        # The handoff is made before the choice is stored, so the task applying the choice
        # finds it; its id names the patient's queue.
        queued = answers.queue_outbound(attempt_id, _call_sid(), config)
        if queued is None:
            return _twiml(twiml.hang_up())
    key = f"choice:{_call_sid()}:{round_number}"
    ours = None if live_team else {OFFERED: CALL_BACK_OFFERED}
    _, known = _store(EventKind.CALL_CHOICE, key, attempt_id, _call_sid(), ours)
    if not known:
        return _twiml(twiml.hang_up())
    if queued is not None:
        _enqueue(CONNECT_HANDLERS)
        return _twiml(queued.twiml)
    return _twiml(_after_choice(attempt_id, digit, round_number, live_team=live_team))


def _after_choice(attempt_id: uuid.UUID, digit: str, round_number: int, *, live_team: bool) -> str:
    """What the patient hears after a choice that does not queue them for a handler."""
    config = _config()
    context = config.public_context
    if digit == SPEAK_TO_TEAM:  # nobody signed in: the team calls back (the task asks them)
        return twiml.say_then_hang_up("callback_confirmed", context)
    if digit == TEXT_ME:
        template = "sms_requested" if _patient_may_get_sms(attempt_id) else "call_us_to_book"
        return twiml.say_then_hang_up(template, context)
    if digit == NOT_NEEDED:
        return twiml.say_then_hang_up("declined", context)
    return twiml.repeat_options(
        attempt_id, context, config.urls, round_number + 1, live_team=live_team
    )


@blueprint.post("/voice/<uuid:attempt_id>/wait")
def call_wait(attempt_id: uuid.UUID) -> Response:
    """Hold while waiting in the old shared queue (calls enqueued before the ACD: each patient
    now waits in their own queue, ``handoff_webhooks``); after the configured wait, leave the
    queue (the no-handler message, and a callback request is made)."""
    config = _config()
    try:
        waited_s = int(request.form.get("QueueTime", "0"))
    except ValueError:
        waited_s = 0
    remaining_s = int(config.hold_wait.total_seconds()) - waited_s
    if remaining_s > 0:
        return _twiml(hold.hold(config.public_context, min(config.hold_pause_s, remaining_s)))
    key = f"queue-leave:{_call_sid()}"
    _store(EventKind.CALL_QUEUE_LEAVE, key, attempt_id, _call_sid())
    return _twiml(hold.leave_queue())


@blueprint.post("/sms/<uuid:attempt_id>/status")
def sms_status(attempt_id: uuid.UUID) -> tuple[str, int]:
    """SMS delivery report."""
    form = request.form
    message_sid = form.get("MessageSid", "") or form.get("SmsSid", "")
    status = form.get("MessageStatus", "") or form.get("SmsStatus", "")
    key = sms_status_key(message_sid, status)
    _store(EventKind.SMS_STATUS, key, attempt_id, message_sid or None)
    return "", 204


@blueprint.post("/sms/inbound")
def sms_inbound() -> Response:
    """A text from a patient. STOP is recorded before this returns; a reply asking for a call
    is applied by a task. Answered with TwiML (a reply text, or nothing for a replay)."""
    with session_scope() as session:
        result = inbound_sms.receive(
            session, request.form.to_dict(flat=True), _config().public_context
        )
    if result.needs_task and result.event_id is not None:
        _enqueue(APPLY_PROVIDER_EVENT, result.event_id)
    response = MessagingResponse()
    if result.reply:
        response.message(result.reply)
    return _twiml(str(response))


# The ACD's routes (handoffs, handler offers, inbound calls) live on this blueprint too, so one
# signature check guards every /twilio route.
from admin_ui import handoff_webhooks  # noqa: E402, F401
