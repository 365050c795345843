"""The small interface every telephony provider implements, and the data it exchanges."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol


@dataclass(frozen=True)
class CallRequest:
    """An outbound call with answering-machine detection and callbacks to our webhooks."""

    to: str
    caller_id: str
    answer_url: str
    status_callback_url: str
    amd_callback_url: str
    ring_timeout_s: int = 25
    machine_detection_timeout_s: int = 30
    time_limit_s: int = 3600
    # Call progress events posted to the status callback. The engine needs only the final one:
    # the answer URL tells it the call was answered; each extra event is a webhook more a call.
    status_events: tuple[str, ...] = ("completed",)


@dataclass(frozen=True)
class HandlerCallRequest:
    """A call to a handler's endpoint (E.164, ``sip:`` URI or ``client:identity``): no
    answering-machine detection (a handler's voicemail must not take a patient), final status
    only."""

    to: str
    caller_id: str
    answer_url: str
    status_callback_url: str
    ring_timeout_s: int = 20
    time_limit_s: int = 3600


@dataclass(frozen=True)
class SmsRequest:
    """An outbound SMS."""

    to: str
    sender: str
    body: str
    status_callback_url: str


@dataclass(frozen=True)
class ProviderCall:
    """A call as the provider knows it."""

    sid: str
    status: str
    to: str | None = None
    answered_by: str | None = None
    start_time: datetime | None = None
    end_time: datetime | None = None
    duration_s: int | None = None


@dataclass(frozen=True)
class ProviderMessage:
    """A message as the provider knows it."""

    sid: str
    status: str
    error_code: int | None = None


class TelephonyProvider(Protocol):
    """Calls and SMS. Raises only our errors (see ``telephony.errors``)."""

    def place_call(self, request: CallRequest) -> ProviderCall:
        """Start an outbound call."""
        ...

    def place_handler_call(self, request: HandlerCallRequest) -> ProviderCall:
        """Ring a handler for a patient (no answering-machine detection)."""
        ...

    def send_sms(self, request: SmsRequest) -> ProviderMessage:
        """Send an SMS."""
        ...

    def fetch_call(self, sid: str) -> ProviderCall:
        """The provider's current view of a call."""
        ...

    def fetch_message(self, sid: str) -> ProviderMessage:
        """The provider's current view of an SMS: how a lost delivery report is made good."""
        ...

    def find_calls(self, to: str, started_after: datetime) -> list[ProviderCall]:
        """Calls to a number since a moment: how an uncertain attempt is reconciled."""
        ...

    def update_call_twiml(self, sid: str, twiml: str) -> None:
        """Replace what a live call is doing (e.g. leave the voicemail after the beep)."""
        ...

    def hang_up(self, sid: str) -> None:
        """End a live call."""
        ...
