"""TwiML for a patient waiting in the booking-team queue (the Enqueue ``waitUrl``).

While a handler may still come, the patient hears the hold message and a pause; Twilio asks the
wait URL again after each. When the wait is over, ``<Leave/>`` takes the caller out of the queue
and the rest of ``twiml.to_booking_team`` plays: the no-handler message, never silence.
"""

from __future__ import annotations

from twilio.twiml.voice_response import VoiceResponse

from rmc_outreach.messages import PublicContext, render_voice
from rmc_outreach.telephony.twiml import LANGUAGE, VOICE


def hold(context: PublicContext, pause_s: int) -> str:
    """The hold message, then ``pause_s`` seconds of quiet before Twilio asks again."""
    response = VoiceResponse()
    response.say(render_voice("hold", context), voice=VOICE, language=LANGUAGE)
    response.pause(length=max(1, pause_s))
    return str(response)


def leave_queue() -> str:
    """Take the caller out of the queue: nobody could take the call in time."""
    response = VoiceResponse()
    response.leave()
    return str(response)
