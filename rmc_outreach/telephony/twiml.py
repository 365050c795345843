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
MAX_OPTION_ROUNDS = 2


def _say(target: VoiceResponse | Gather, text: str) -> None:
    target.say(text, voice=VOICE, language=LANGUAGE)


def greeting(
    attempt_id: uuid.UUID, context: PublicContext, urls: WebhookUrls, *, live_team: bool = True
) -> str:
    """What a person hears on answering: who, why, and the options. With ``live_team`` False
    (no handler signed in) key 1 asks the team to call back instead of offering a wait."""
    response = VoiceResponse()
    _say(response, render_voice("greeting", context))
    response.append(_options(attempt_id, context, urls, round_number=1, live_team=live_team))
    return str(response)


def _options(
    attempt_id: uuid.UUID,
    context: PublicContext,
    urls: WebhookUrls,
    *,
    round_number: int,
    live_team: bool,
) -> Gather:
    gather = Gather(
        num_digits=1,
        action=urls.call_choice(attempt_id, round_number=round_number, live_team=live_team),
        method="POST",
        timeout=6,
        # No key pressed still posts to the action (Digits empty), which offers the options again.
        action_on_empty_result=True,
    )
    _say(gather, render_voice("options" if live_team else "options_callback", context))
    return gather


def repeat_options(
    attempt_id: uuid.UUID,
    context: PublicContext,
    urls: WebhookUrls,
    round_number: int,
    *,
    live_team: bool = True,
) -> str:
    """The options again; after the last round, how to call us, then goodbye."""
    response = VoiceResponse()
    if round_number > MAX_OPTION_ROUNDS:
        _say(response, render_voice("no_input", context))
        response.hangup()
        return str(response)
    response.append(
        _options(attempt_id, context, urls, round_number=round_number, live_team=live_team)
    )
    return str(response)


def to_booking_team(handoff_id: int, context: PublicContext, urls: WebhookUrls) -> str:
    """Queue the patient for a handler in the handoff's own queue ``handoff-<id>``: their place
    and a callback choice from the wait URL; the Enqueue action says what happens if nobody
    takes them in time (``rmc_outreach.acd``)."""
    from rmc_outreach.telephony import handoff_twiml

    return handoff_twiml.enqueue(handoff_id, context, urls, intro="hold")


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
