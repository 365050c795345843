"""TwiML for our calls, built with the Twilio SDK (never by string concatenation).

A person who answers hears who is calling and why, then keypad options: 1 speak to the booking
team now, 2 text me how to book, 3 I no longer need this appointment, 9 hear again. A machine
hears the safe voicemail after the beep. Every word comes from ``message_templates/voice``.
"""

from __future__ import annotations

import uuid

from twilio.twiml.voice_response import Gather, VoiceResponse

from rmc_outreach.messages import PublicContext, render_voice
from rmc_outreach.telephony.urls import WebhookUrls

VOICE = "Polly.Amy-Neural"
LANGUAGE = "en-GB"
HANDLER_QUEUE = "booking-team"
MAX_OPTION_ROUNDS = 2


def _say(target: VoiceResponse | Gather, text: str) -> None:
    target.say(text, voice=VOICE, language=LANGUAGE)


def greeting(attempt_id: uuid.UUID, context: PublicContext, urls: WebhookUrls) -> str:
    """What a person hears on answering: who, why, and the options."""
    response = VoiceResponse()
    _say(response, render_voice("greeting", context))
    response.append(_options(attempt_id, context, urls, round_number=1))
    return str(response)


def _options(
    attempt_id: uuid.UUID, context: PublicContext, urls: WebhookUrls, *, round_number: int
) -> Gather:
    gather = Gather(
        num_digits=1,
        action=urls.call_choice(attempt_id, round_number=round_number),
        method="POST",
        timeout=6,
        # No key pressed still posts to the action (Digits empty), which offers the options again.
        action_on_empty_result=True,
    )
    _say(gather, render_voice("options", context))
    return gather


def repeat_options(
    attempt_id: uuid.UUID, context: PublicContext, urls: WebhookUrls, round_number: int
) -> str:
    """The options again; after the last round, how to call us, then goodbye."""
    response = VoiceResponse()
    if round_number > MAX_OPTION_ROUNDS:
        _say(response, render_voice("no_input", context))
        response.hangup()
        return str(response)
    response.append(_options(attempt_id, context, urls, round_number=round_number))
    return str(response)


def to_booking_team(attempt_id: uuid.UUID, context: PublicContext, urls: WebhookUrls) -> str:
    """Queue the patient for a handler, with hold messages from the wait URL."""
    response = VoiceResponse()
    _say(response, render_voice("hold", context))
    response.enqueue(HANDLER_QUEUE, wait_url=urls.call_wait(attempt_id), wait_url_method="POST")
    # Reached only if the caller leaves the queue without a handler: never end in silence.
    _say(response, render_voice("no_handler", context))
    response.hangup()
    return str(response)


def say_then_hang_up(template: str, context: PublicContext) -> str:
    """A short message (e.g. 'we will text you'), then end the call."""
    response = VoiceResponse()
    _say(response, render_voice(template, context))
    response.hangup()
    return str(response)


def voicemail(context: PublicContext) -> str:
    """The safe voicemail, said after the beep: who is calling and the number to call back."""
    response = VoiceResponse()
    response.pause(length=1)
    _say(response, render_voice("voicemail", context))
    response.hangup()
    return str(response)


def hang_up() -> str:
    """End the call at once (a machine for a patient who does not want voicemails)."""
    response = VoiceResponse()
    response.hangup()
    return str(response)
