"""Calls and messages as the simulator keeps them, and their JSON in Twilio's shape.

The JSON follows the spec's response schemas (``api.v2010.account.call`` and
``api.v2010.account.message``): SIDs ``CA``/``SM`` + 32 hex digits, dates in RFC 2822 with
``+0000``, durations as strings, ``null`` where Twilio has nothing yet.
"""

from __future__ import annotations

import re
import secrets
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import format_datetime
from typing import Any

from werkzeug.datastructures import MultiDict

API_VERSION = "2010-04-01"
FINAL_CALL_STATUSES = frozenset({"completed", "busy", "no-answer", "failed", "canceled"})
FINAL_MESSAGE_STATUSES = frozenset({"delivered", "undelivered", "failed", "canceled", "read"})
ATTEMPT_ID = re.compile(
    r"/twilio/(?:voice|sms)/([0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-"
    r"[0-9a-fA-F]{12})/"
)


def new_sid(prefix: str) -> str:
    """A Twilio-style SID: two letters and 32 hex digits."""
    return prefix + secrets.token_hex(16)


def rfc2822(moment: datetime | None) -> str | None:
    """A date as Twilio writes it: ``Fri, 27 Nov 2026 09:30:00 +0000``."""
    return None if moment is None else format_datetime(moment.astimezone(UTC))


def attempt_id_from(*urls: str | None) -> str | None:
    """Our attempt id, parsed from the first callback URL that carries one."""
    for url in urls:
        match = ATTEMPT_ID.search(url or "")
        if match:
            return match.group(1).lower()
    return None


class CallControl:
    """What the REST API does to a live call: replace its TwiML, or hang it up."""

    def __init__(self) -> None:
        self.changed = threading.Event()
        self._lock = threading.Lock()
        self._twiml: str | None = None
        self._url: tuple[str, str] | None = None
        self._hang_up = False
        self.generation = 0

    def replace_twiml(self, twiml: str) -> None:
        """Run this TwiML instead of whatever the call is doing."""
        with self._lock:
            self._twiml, self._url = twiml, None
            self.generation += 1
        self.changed.set()

    def redirect(self, url: str, method: str) -> None:
        """Fetch TwiML from this URL and run it instead."""
        with self._lock:
            self._twiml, self._url = None, (url, method)
            self.generation += 1
        self.changed.set()

    def hang_up(self) -> None:
        """End the call."""
        with self._lock:
            self._hang_up = True
        self.changed.set()

    def take(self) -> tuple[bool, str | None, tuple[str, str] | None]:
        """(hang up?, new TwiML, new URL): what was asked since the last take."""
        with self._lock:
            result = (self._hang_up, self._twiml, self._url)
            self._twiml, self._url = None, None
            if not self._hang_up:
                self.changed.clear()
            return result


@dataclass
class SimCall:
    """A call the simulator is placing or has placed."""

    sid: str
    account_sid: str
    to: str
    sender: str
    form: MultiDict[str, str]
    created_at: datetime
    attempt_id: str | None
    status: str = "queued"
    start_time: datetime | None = None
    end_time: datetime | None = None
    duration_s: int | None = None
    answered_by: str | None = None
    updated_at: datetime | None = None
    control: CallControl = field(default_factory=CallControl)

    @property
    def final(self) -> bool:
        """True once the call has ended."""
        return self.status in FINAL_CALL_STATUSES

    def json(self) -> dict[str, Any]:
        """The Call resource as Twilio returns it."""
        base = f"/{API_VERSION}/Accounts/{self.account_sid}/Calls/{self.sid}"
        return {
            "sid": self.sid,
            "date_created": rfc2822(self.created_at),
            "date_updated": rfc2822(self.updated_at or self.created_at),
            "parent_call_sid": None,
            "account_sid": self.account_sid,
            "to": self.to,
            "to_formatted": self.to,
            "from": self.sender,
            "from_formatted": self.sender,
            "phone_number_sid": None,
            "status": self.status,
            "start_time": rfc2822(self.start_time),
            "end_time": rfc2822(self.end_time),
            "duration": None if self.duration_s is None else str(self.duration_s),
            "price": None,
            "price_unit": "USD",
            "direction": "outbound-api",
            "answered_by": self.answered_by,
            "api_version": API_VERSION,
            "forwarded_from": None,
            "group_sid": None,
            "caller_name": None,
            "queue_time": "0",
            "trunk_sid": None,
            "uri": f"{base}.json",
            "subresource_uris": {
                "notifications": f"{base}/Notifications.json",
                "recordings": f"{base}/Recordings.json",
                "payments": f"{base}/Payments.json",
                "events": f"{base}/Events.json",
                "siprec": f"{base}/Siprec.json",
                "streams": f"{base}/Streams.json",
                "transcriptions": f"{base}/Transcriptions.json",
                "user_defined_message_subscriptions": (
                    f"{base}/UserDefinedMessageSubscriptions.json"
                ),
                "user_defined_messages": f"{base}/UserDefinedMessages.json",
            },
        }


@dataclass
class SimMessage:
    """An outbound SMS the simulator accepted."""

    sid: str
    account_sid: str
    to: str
    sender: str | None
    messaging_service_sid: str | None
    body: str
    segments: int
    status_callback: str | None
    created_at: datetime
    attempt_id: str | None
    status: str = "queued"
    error_code: int | None = None
    sent_at: datetime | None = None
    updated_at: datetime | None = None

    @property
    def final(self) -> bool:
        """True once delivery succeeded or failed for good."""
        return self.status in FINAL_MESSAGE_STATUSES

    def json(self) -> dict[str, Any]:
        """The Message resource as Twilio returns it."""
        base = f"/{API_VERSION}/Accounts/{self.account_sid}/Messages/{self.sid}"
        return {
            "body": self.body,
            "num_segments": str(self.segments),
            "direction": "outbound-api",
            "from": self.sender,
            "to": self.to,
            "date_updated": rfc2822(self.updated_at or self.created_at),
            "price": None,
            "error_message": None if self.error_code is None else "Message not delivered",
            "uri": f"{base}.json",
            "account_sid": self.account_sid,
            "num_media": "0",
            "status": self.status,
            "messaging_service_sid": self.messaging_service_sid,
            "sid": self.sid,
            "date_sent": rfc2822(self.sent_at),
            "date_created": rfc2822(self.created_at),
            "error_code": self.error_code,
            "price_unit": "USD",
            "api_version": API_VERSION,
            "subresource_uris": {
                "media": f"{base}/Media.json",
                "feedback": f"{base}/Feedback.json",
            },
        }
