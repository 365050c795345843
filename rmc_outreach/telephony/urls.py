"""The public URLs of our Twilio webhooks; every callback URL carries our id of what it is about
(an attempt, a handoff or a handler offer)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass


@dataclass(frozen=True)
class WebhookUrls:
    """Builds webhook URLs under the public base URL that Twilio can reach and signs."""

    public_base_url: str

    def _url(self, path: str) -> str:
        return f"{self.public_base_url.rstrip('/')}/twilio/{path}"

    def call_answer(self, attempt_id: uuid.UUID, *, live_team: bool = True) -> str:
        """TwiML for the moment the call is answered; ``offer=call_back`` for a call started
        with no handler signed in (pacing did not count on a handler for it)."""
        offer = "" if live_team else "?offer=call_back"
        return self._url(f"voice/{attempt_id}/answer{offer}")

    def call_status(self, attempt_id: uuid.UUID) -> str:
        """Call status callbacks (we subscribe to the final status only)."""
        return self._url(f"voice/{attempt_id}/status")

    def call_amd(self, attempt_id: uuid.UUID) -> str:
        """Asynchronous answering-machine detection result."""
        return self._url(f"voice/{attempt_id}/amd")

    def call_choice(
        self, attempt_id: uuid.UUID, round_number: int = 1, *, live_team: bool = True
    ) -> str:
        """Where the keypad choice is sent (Gather action); ``offer=call_back`` when key 1
        offered a call back (nobody was signed in when the options were read out)."""
        offer = "" if live_team else "&offer=call_back"
        return self._url(f"voice/{attempt_id}/choice?round={round_number}{offer}")

    def call_wait(self, attempt_id: uuid.UUID) -> str:
        """Hold TwiML while the patient waits for a handler."""
        return self._url(f"voice/{attempt_id}/wait")

    def handoff_wait(self, handoff_id: int) -> str:
        """Enqueue ``waitUrl``: the patient's place in the queue and the callback choice."""
        return self._url(f"handoff/{handoff_id}/wait")

    def handoff_wait_choice(self, handoff_id: int) -> str:
        """Gather action inside the wait: 1 asks for a callback instead of waiting."""
        return self._url(f"handoff/{handoff_id}/wait-choice")

    def handoff_result(self, handoff_id: int) -> str:
        """Enqueue ``action``: why the patient left the queue (QueueResult)."""
        return self._url(f"handoff/{handoff_id}/result")

    def offer_answer(self, offer_id: int) -> str:
        """TwiML for the handler's leg once answered: the whisper, then the bridge."""
        return self._url(f"offer/{offer_id}/answer")

    def offer_status(self, offer_id: int) -> str:
        """The handler leg's final status."""
        return self._url(f"offer/{offer_id}/status")

    def offer_dial_end(self, offer_id: int) -> str:
        """Dial ``action`` on the handler's leg: the bridge is over (DialCallStatus)."""
        return self._url(f"offer/{offer_id}/dial-end")

    def offer_bridged(self, offer_id: int) -> str:
        """``<Queue url>`` / ``<Number url>``: the patient is being connected to the handler."""
        return self._url(f"offer/{offer_id}/bridged")

    def sms_status(self, attempt_id: uuid.UUID) -> str:
        """SMS delivery callbacks."""
        return self._url(f"sms/{attempt_id}/status")

    def sms_inbound(self) -> str:
        """Messages patients send to our number."""
        return self._url("sms/inbound")

    def voice_inbound(self) -> str:
        """Calls patients make to our number."""
        return self._url("voice/inbound")
