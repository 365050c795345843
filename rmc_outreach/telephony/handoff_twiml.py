"""TwiML around the ACD: the patient's wait in their own queue, and the handler's leg.

A patient waiting for a handler is in the Twilio queue ``handoff-<id>`` (``queue_name``). The
wait URL tells them their place and offers a callback instead; when the wait is over,
``<Leave/>`` ends the ``<Enqueue>`` and its action URL answers with the information message.
The handler's leg hears a short whisper (staff words, from ``message_templates/voice/staff``),
then ``<Dial><Queue>`` takes the patient out of their queue, or ``<Dial><Number>`` rings a
patient back. Every word comes from ``message_templates/voice``.
"""

from __future__ import annotations

from functools import lru_cache

from jinja2 import Environment, FileSystemLoader, StrictUndefined
from twilio.twiml.voice_response import Dial, Gather, VoiceResponse

from rmc_outreach.messages import TEMPLATE_ROOT, PublicContext, render_voice
from rmc_outreach.telephony.twiml import LANGUAGE, VOICE
from rmc_outreach.telephony.urls import WebhookUrls

QUEUE_PREFIX = "handoff-"
# The handler has this long to pick up before the call counts as not answered.
HANDLER_RING_TIMEOUT_S = 20
# How long the handler's ``<Dial><Queue>`` waits on an empty queue (Twilio waits for someone to
# join until the Dial's timeout, 30 s by default). Each patient has their own queue and the
# handler dials it only once the patient is theirs, so it is empty only if the patient hung up
# meanwhile: nobody will join, and the handler should be free again at once.
DIAL_QUEUE_TIMEOUT_S = 10
# How long a handler's callback call rings the patient (Ofcom: at least 15 s).
PATIENT_RING_TIMEOUT_S = 25
CALLBACK_DIGIT = "1"


def queue_name(handoff_id: int) -> str:
    """The Twilio queue a handoff's patient waits in: one queue per patient."""
    return f"{QUEUE_PREFIX}{handoff_id}"


@lru_cache(maxsize=1)
def _environment() -> Environment:
    return Environment(
        loader=FileSystemLoader(str(TEMPLATE_ROOT / "voice")),
        undefined=StrictUndefined,
        autoescape=False,  # noqa: S701 - plain text; the SDK escapes TwiML
    )


def render_with(name: str, context: PublicContext | None = None, /, **values: object) -> str:
    """A voice template that needs more than the public context (``queue/...`` patient words
    with a number in them, ``staff/...`` handler whispers), on one line."""
    fields = dict(values)
    if context is not None:
        fields.update(vars(context))
    text = _environment().get_template(f"{name}.txt").render(**fields)
    return " ".join(text.split())


def _say(target: VoiceResponse | Gather, text: str) -> None:
    target.say(text, voice=VOICE, language=LANGUAGE)


def enqueue(handoff_id: int, context: PublicContext, urls: WebhookUrls, *, intro: str) -> str:
    """Say ``intro`` (a template name), then wait in the handoff's own queue."""
    response = VoiceResponse()
    _say(response, render_voice(intro, context))
    response.enqueue(
        queue_name(handoff_id),
        action=urls.handoff_result(handoff_id),
        method="POST",
        wait_url=urls.handoff_wait(handoff_id),
        wait_url_method="POST",
    )
    # With an action Twilio plays the action's answer instead; kept so that leaving the queue can
    # never end in silence, whatever runs this document.
    _say(response, render_voice("no_handler", context))
    response.hangup()
    return str(response)


def waiting(
    handoff_id: int, position: int, pause_s: int, context: PublicContext, urls: WebhookUrls
) -> str:
    """The wait URL's answer: the patient's place in the queue and the callback choice, then
    quiet (during which a key still counts) before Twilio asks again."""
    response = VoiceResponse()
    gather = Gather(
        num_digits=1,
        action=urls.handoff_wait_choice(handoff_id),
        method="POST",
        timeout=1,
        action_on_empty_result=False,
    )
    _say(gather, render_with("queue/position", context, position=max(1, position)))
    _say(gather, render_voice("queue_callback_offer", context))
    gather.pause(length=max(1, pause_s))
    response.append(gather)
    return str(response)


def leave_queue() -> str:
    """Take the patient out of the queue (the Enqueue action then says why)."""
    response = VoiceResponse()
    response.leave()
    return str(response)


def say_then_hang_up(template: str, context: PublicContext) -> str:
    """Words for the patient, then the end of the call."""
    response = VoiceResponse()
    _say(response, render_voice(template, context))
    response.hangup()
    return str(response)


def quiet(pause_s: int = 1) -> str:
    """A short pause (e.g. while the patient is being connected)."""
    response = VoiceResponse()
    response.pause(length=max(1, pause_s))
    return str(response)


def empty() -> str:
    """Nothing more to do on this leg."""
    return str(VoiceResponse())


def hang_up() -> str:
    """End this leg."""
    response = VoiceResponse()
    response.hangup()
    return str(response)


def whisper_then_queue(offer_id: int, handoff_id: int, whisper: str, urls: WebhookUrls) -> str:
    """The handler's leg: the whisper, then the patient taken out of their queue (only ever given
    once the patient is this handler's: ``acd.handoff_state.take``)."""
    response = VoiceResponse()
    _say(response, whisper)
    dial = Dial(action=urls.offer_dial_end(offer_id), method="POST", timeout=DIAL_QUEUE_TIMEOUT_S)
    dial.queue(queue_name(handoff_id), url=urls.offer_bridged(offer_id), method="POST")
    response.append(dial)
    response.hangup()
    return str(response)


def whisper_then_number(
    offer_id: int, whisper: str, number: str, caller_id: str, urls: WebhookUrls
) -> str:
    """The handler's leg for "call this patient now": the whisper, then the patient rung from
    our number (returnable caller id), the bridge noted when they answer."""
    response = VoiceResponse()
    _say(response, whisper)
    dial = Dial(
        action=urls.offer_dial_end(offer_id),
        method="POST",
        caller_id=caller_id,
        timeout=PATIENT_RING_TIMEOUT_S,
    )
    dial.number(number, url=urls.offer_bridged(offer_id), method="POST")
    response.append(dial)
    response.hangup()
    return str(response)


def staff_message(template: str, **values: object) -> str:
    """Words for the handler only (``staff/<template>``), then the end of their leg."""
    response = VoiceResponse()
    _say(response, render_with(f"staff/{template}", **values))
    response.hangup()
    return str(response)
