"""The public URLs of our Twilio webhooks; every callback URL carries our attempt id."""

from __future__ import annotations

import uuid
from dataclasses import dataclass


@dataclass(frozen=True)
class WebhookUrls:
    """Builds webhook URLs under the public base URL that Twilio can reach and signs."""

    public_base_url: str

    def _url(self, path: str) -> str:
        return f"{self.public_base_url.rstrip('/')}/twilio/{path}"

    def call_answer(self, attempt_id: uuid.UUID) -> str:
        """TwiML for the moment the call is answered."""
        return self._url(f"voice/{attempt_id}/answer")

    def call_status(self, attempt_id: uuid.UUID) -> str:
        """Call status callbacks (we subscribe to the final status only)."""
        return self._url(f"voice/{attempt_id}/status")

    def call_amd(self, attempt_id: uuid.UUID) -> str:
        """Asynchronous answering-machine detection result."""
        return self._url(f"voice/{attempt_id}/amd")

    def call_choice(self, attempt_id: uuid.UUID, round_number: int = 1) -> str:
        """Where the keypad choice is sent (Gather action)."""
        return self._url(f"voice/{attempt_id}/choice?round={round_number}")

    def call_wait(self, attempt_id: uuid.UUID) -> str:
        """Hold TwiML while the patient waits for a handler."""
        return self._url(f"voice/{attempt_id}/wait")

    def sms_status(self, attempt_id: uuid.UUID) -> str:
        """SMS delivery callbacks."""
        return self._url(f"sms/{attempt_id}/status")

    def sms_inbound(self) -> str:
        """Messages patients send to our number."""
        return self._url("sms/inbound")

    def voice_inbound(self) -> str:
        """Calls patients make to our number."""
        return self._url("voice/inbound")
