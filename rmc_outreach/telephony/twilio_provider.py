"""The Twilio adapter: the real ``twilio`` SDK behind our provider interface.

Short, safe retries (connection refused, 429) happen here with tenacity; everything else becomes
one of our errors. ``TWILIO_API_BASE_URL`` points every REST request at another endpoint (the
carrier simulator) through the SDK's ``http_client`` seam, keeping the SDK's own serialisation.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, TypeVar
from urllib.parse import urlsplit, urlunsplit

import requests
from tenacity import (
    Retrying,
    retry_if_exception_type,
    stop_after_attempt,
    wait_exponential_jitter,
)
from twilio.base.exceptions import TwilioRestException
from twilio.http.http_client import TwilioHttpClient
from twilio.http.response import Response
from twilio.rest import Client

from rmc_outreach.config import Settings
from rmc_outreach.telephony.base import (
    CallRequest,
    HandlerCallRequest,
    ProviderCall,
    ProviderMessage,
    SmsRequest,
)
from rmc_outreach.telephony.errors import (
    AmbiguousProviderError,
    RetryableProviderError,
    classify_http_error,
)

log = logging.getLogger(__name__)
# The SDK logs request query strings at INFO, and a call listing's query holds a phone number.
logging.getLogger("twilio.http_client").setLevel(logging.WARNING)
T = TypeVar("T")

HTTP_TIMEOUT_S = 10.0
TWILIO_API_URL = "https://api.twilio.com/"


def read_environment_once(session: requests.Session, url: str) -> None:
    """Take the proxy and CA bundle settings for ``url`` from the environment now, for every
    request of ``session``: requests would otherwise read the whole environment again for each
    request (milliseconds of CPU every call). The session only ever talks to that one host."""
    settings = session.merge_environment_settings(url, {}, None, None, None)
    session.proxies = settings["proxies"]
    session.verify = settings["verify"]
    session.trust_env = False


class LocalEndpointHttpClient(TwilioHttpClient):  # type: ignore[misc]
    """Sends every Twilio REST request to ``base_url`` instead of *.twilio.com."""

    def __init__(self, base_url: str, timeout: float = HTTP_TIMEOUT_S) -> None:
        super().__init__(timeout=timeout)
        parts = urlsplit(base_url)
        self._scheme, self._netloc = parts.scheme, parts.netloc
        self._prefix = parts.path.rstrip("/")

    def request(self, method: str, url: str, *args: Any, **kwargs: Any) -> Response:
        """Rewrite scheme, host and path prefix, then let the SDK send it as usual."""
        parts = urlsplit(url)
        local = urlunsplit(
            (self._scheme, self._netloc, self._prefix + parts.path, parts.query, parts.fragment)
        )
        response: Response = super().request(method, local, *args, **kwargs)
        return response


def _is_safe_connection_error(error: requests.exceptions.RequestException) -> bool:
    """True when the request certainly never reached the provider."""
    if isinstance(error, requests.exceptions.ConnectTimeout):
        return True
    if isinstance(error, requests.exceptions.ConnectionError):
        text = repr(error)
        return "NewConnectionError" in text or "Connection refused" in text
    return False


def _parse_time(value: Any) -> datetime | None:
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    return None


def _as_call(instance: Any) -> ProviderCall:
    duration = getattr(instance, "duration", None)
    return ProviderCall(
        sid=instance.sid,
        status=str(instance.status),
        to=getattr(instance, "to", None),
        answered_by=getattr(instance, "answered_by", None),
        start_time=_parse_time(getattr(instance, "start_time", None)),
        end_time=_parse_time(getattr(instance, "end_time", None)),
        duration_s=int(duration) if duration not in (None, "") else None,
    )


class TwilioProvider:
    """Twilio REST API through the official SDK."""

    def __init__(
        self, settings: Settings, *, max_attempts: int = 4, http_timeout_s: float = HTTP_TIMEOUT_S
    ) -> None:
        if not (settings.twilio_account_sid and settings.twilio_auth_token):
            raise ValueError("TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN are needed for calls")
        base_url = settings.twilio_api_base_url
        http_client = (
            LocalEndpointHttpClient(base_url, timeout=http_timeout_s)
            if base_url
            else TwilioHttpClient(timeout=http_timeout_s)
        )
        read_environment_once(http_client.session, base_url or TWILIO_API_URL)
        self.client = Client(
            settings.twilio_account_sid, settings.twilio_auth_token, http_client=http_client
        )
        self._max_attempts = max_attempts

    def _call_api(self, operation: Callable[[], T], *, creates: bool, what: str) -> T:
        def once() -> T:
            try:
                return operation()
            except TwilioRestException as error:
                raise classify_http_error(
                    error.status, error.code, f"{what}: HTTP {error.status}", creates=creates
                ) from error
            except requests.exceptions.RequestException as error:
                if _is_safe_connection_error(error) or not creates:
                    raise RetryableProviderError(
                        f"{what}: {type(error).__name__}", reason="connection_error"
                    ) from error
                raise AmbiguousProviderError(
                    f"{what}: {type(error).__name__} after sending", reason="connection_error"
                ) from error

        retrying = Retrying(
            retry=retry_if_exception_type(RetryableProviderError),
            stop=stop_after_attempt(self._max_attempts),
            wait=wait_exponential_jitter(multiplier=0.25, max=4),
            reraise=True,
            before_sleep=lambda state: log.warning(
                "retrying %s after attempt %s", what, state.attempt_number
            ),
        )
        return retrying(once)

    def place_call(self, request: CallRequest) -> ProviderCall:
        """Start a call with async answering-machine detection (DetectMessageEnd)."""

        def create() -> Any:
            return self.client.calls.create(
                to=request.to,
                from_=request.caller_id,
                url=request.answer_url,
                method="POST",
                status_callback=request.status_callback_url,
                status_callback_event=list(request.status_events),
                status_callback_method="POST",
                timeout=request.ring_timeout_s,
                machine_detection="DetectMessageEnd",
                machine_detection_timeout=request.machine_detection_timeout_s,
                async_amd="true",
                async_amd_status_callback=request.amd_callback_url,
                async_amd_status_callback_method="POST",
                time_limit=request.time_limit_s,
            )

        return _as_call(self._call_api(create, creates=True, what="create call"))

    def place_handler_call(self, request: HandlerCallRequest) -> ProviderCall:
        """Ring a handler: no answering-machine detection, the final status only."""

        def create() -> Any:
            return self.client.calls.create(
                to=request.to,
                from_=request.caller_id,
                url=request.answer_url,
                method="POST",
                status_callback=request.status_callback_url,
                status_callback_event=["completed"],
                status_callback_method="POST",
                timeout=request.ring_timeout_s,
                time_limit=request.time_limit_s,
            )

        return _as_call(self._call_api(create, creates=True, what="create handler call"))

    def send_sms(self, request: SmsRequest) -> ProviderMessage:
        """Send one SMS with a delivery status callback."""

        def create() -> Any:
            return self.client.messages.create(
                to=request.to,
                from_=request.sender,
                body=request.body,
                status_callback=request.status_callback_url,
            )

        message = self._call_api(create, creates=True, what="create message")
        return ProviderMessage(
            sid=message.sid, status=str(message.status), error_code=message.error_code
        )

    def fetch_call(self, sid: str) -> ProviderCall:
        """The call as Twilio sees it now."""
        return _as_call(
            self._call_api(lambda: self.client.calls(sid).fetch(), creates=False, what="fetch call")
        )

    def fetch_message(self, sid: str) -> ProviderMessage:
        """The SMS as Twilio sees it now."""
        message = self._call_api(
            lambda: self.client.messages(sid).fetch(), creates=False, what="fetch message"
        )
        return ProviderMessage(
            sid=message.sid, status=str(message.status), error_code=message.error_code
        )

    def find_calls(self, to: str, started_after: datetime) -> list[ProviderCall]:
        """Calls to ``to`` created since ``started_after`` (for reconciling uncertain attempts)."""

        def listing() -> Any:
            # The SDK formats StartTime> without converting zones: give it UTC.
            after = started_after.astimezone(UTC)
            return self.client.calls.list(to=to, start_time_after=after, limit=20)

        return [_as_call(call) for call in self._call_api(listing, creates=False, what="list")]

    def update_call_twiml(self, sid: str, twiml: str) -> None:
        """Replace the TwiML of a live call."""
        self._call_api(
            lambda: self.client.calls(sid).update(twiml=twiml), creates=False, what="update call"
        )

    def hang_up(self, sid: str) -> None:
        """End a live call."""
        self._call_api(
            lambda: self.client.calls(sid).update(status="completed"),
            creates=False,
            what="hang up",
        )
