"""The network edge for engine tests: a fake telephony provider, and fixed moments in time.

The fake implements the ``TelephonyProvider`` protocol and keeps what it was asked to do, so a
test can check that nothing was dialled or texted. (Contract tests drive the real Twilio adapter
against the carrier simulator; here only our side of the edge is under test.)
"""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import UTC, datetime

from rmc_outreach.clock import now
from rmc_outreach.config import Settings
from rmc_outreach.engine_config import EngineConfig, engine_config
from rmc_outreach.telephony.base import (
    CallRequest,
    HandlerCallRequest,
    ProviderCall,
    ProviderMessage,
    SmsRequest,
)
from rmc_outreach.telephony.errors import PermanentProviderError, ProviderError

# Wednesday 25 November 2026, 10:00 in London (GMT): inside the default calling window.
WEDNESDAY_10AM = datetime(2026, 11, 25, 10, 0, tzinfo=UTC)
# The same Wednesday at 19:30: after the window has closed.
WEDNESDAY_EVENING = datetime(2026, 11, 25, 19, 30, tzinfo=UTC)
# Saturday 28 November 2026, 11:00: a weekend.
SATURDAY_11AM = datetime(2026, 11, 28, 11, 0, tzinfo=UTC)
# Friday 25 December 2026, 10:00: Christmas Day, a bank holiday on a weekday.
CHRISTMAS_10AM = datetime(2026, 12, 25, 10, 0, tzinfo=UTC)

AUTH_TOKEN = "test-auth-token-0123456789abcdef"
ACCOUNT_SID = "AC" + "0" * 32


def engine_config_for(settings: Settings, **overrides: object) -> EngineConfig:
    """The engine configuration for the test settings, with no environment overrides."""
    return replace(engine_config(settings, env={}), **overrides)  # type: ignore[arg-type]


class FakeProvider:
    """Records every call and SMS asked of it; ``fail_with`` makes the next create raise."""

    def __init__(self) -> None:
        self.calls: list[CallRequest] = []
        self.handler_calls: list[HandlerCallRequest] = []
        self.hung_up: list[str] = []
        self.messages: list[SmsRequest] = []
        self.twiml_updates: list[tuple[str, str]] = []
        self.known_calls: dict[str, ProviderCall] = {}
        self.known_messages: dict[str, ProviderMessage] = {}
        self.fail_with: ProviderError | None = None
        self.fail_updates_with: ProviderError | None = None
        self.lookups = 0

    def _raise_if_told(self) -> None:
        error, self.fail_with = self.fail_with, None
        if error is not None:
            raise error

    def place_call(self, request: CallRequest) -> ProviderCall:
        """Start a call (recorded), unless told to fail."""
        self._raise_if_told()
        call = ProviderCall(
            sid=f"CA{uuid.uuid4().hex}", status="queued", to=request.to, start_time=now()
        )
        self.calls.append(request)
        self.known_calls[call.sid] = call
        return call

    def place_handler_call(self, request: HandlerCallRequest) -> ProviderCall:
        """Ring a handler (recorded), unless told to fail."""
        self._raise_if_told()
        call = ProviderCall(
            sid=f"CA{uuid.uuid4().hex}", status="queued", to=request.to, start_time=now()
        )
        self.handler_calls.append(request)
        self.known_calls[call.sid] = call
        return call

    def send_sms(self, request: SmsRequest) -> ProviderMessage:
        """Send an SMS (recorded), unless told to fail."""
        self._raise_if_told()
        self.messages.append(request)
        message = ProviderMessage(sid=f"SM{uuid.uuid4().hex}", status="queued")
        self.known_messages[message.sid] = message
        return message

    def fetch_call(self, sid: str) -> ProviderCall:
        """The call as we know it."""
        self.lookups += 1
        if sid not in self.known_calls:
            raise PermanentProviderError("not found", code=20404, reason="not_found")
        return self.known_calls[sid]

    def fetch_message(self, sid: str) -> ProviderMessage:
        """The message as we know it."""
        self.lookups += 1
        if sid not in self.known_messages:
            raise PermanentProviderError("not found", code=20404, reason="not_found")
        return self.known_messages[sid]

    def find_calls(self, to: str, started_after: datetime) -> list[ProviderCall]:
        """Calls to ``to`` started at or after ``started_after``."""
        self.lookups += 1
        return [
            call
            for call in self.known_calls.values()
            if call.to == to and call.start_time is not None and call.start_time >= started_after
        ]

    def update_call_twiml(self, sid: str, twiml: str) -> None:
        """Record the redirect of a live call."""
        if self.fail_updates_with is not None:
            raise self.fail_updates_with
        self.twiml_updates.append((sid, twiml))

    def hang_up(self, sid: str) -> None:
        """Record a hang-up as an empty redirect."""
        self.twiml_updates.append((sid, ""))
        self.hung_up.append(sid)
