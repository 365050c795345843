"""Webhooks as Twilio sends them: form-encoded, signed with ``X-Twilio-Signature``.

The signature is base64(HMAC-SHA1(auth token, URL + each parameter name and value, sorted by
name)), computed by the SDK's own ``RequestValidator`` over the exact URL requested (query string
included). Twilio waits 10 s to connect and 15 s in all; so do we. A request is sent once more,
with the same ``I-Twilio-Idempotency-Token``, only when no answer came: the connection failed,
closed or timed out first (most often a kept-alive connection the web server had just closed).
An answer, even an error, is never sent again. A failure is written to the ledger by purpose and
path, never with the parameters (they carry phone numbers).
"""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urlencode, urlsplit

import requests
from requests.adapters import HTTPAdapter
from twilio.request_validator import RequestValidator
from urllib3.util.retry import Retry

from rmc_outreach.simulation.carrier.ledger import Ledger

log = logging.getLogger(__name__)

SIGNATURE_HEADER = "X-Twilio-Signature"
USER_AGENT = "TwilioProxy/1.1"
CONNECT_TIMEOUT_S = 10.0
TOTAL_TIMEOUT_S = 15.0
# Once more when no answer came (refused, reset, or closed before a status line); any method.
RESEND = Retry(total=1, connect=1, read=1, status=0, redirect=0, other=0, allowed_methods=None)


def compute_signature(auth_token: str, url: str, params: Mapping[str, str]) -> str:
    """Twilio's request signature for a webhook to ``url`` carrying ``params``."""
    signature: str = RequestValidator(auth_token).compute_signature(url, dict(params))
    return signature


@dataclass(frozen=True)
class WebhookReply:
    """What a webhook answered (``status`` 0 when it could not be reached)."""

    status: int
    text: str

    @property
    def ok(self) -> bool:
        """True for a 2xx answer."""
        return 200 <= self.status < 300


class WebhookSender:
    """Posts signed webhooks; one HTTP session per thread, so connections are reused."""

    def __init__(self, auth_token: str, ledger: Ledger, stopping: threading.Event) -> None:
        self._auth_token = auth_token
        self._ledger = ledger
        self._stopping = stopping
        self._local = threading.local()

    def _session(self) -> requests.Session:
        session: requests.Session | None = getattr(self._local, "session", None)
        if session is None:
            session = requests.Session()
            # Straight to the URL given: no proxy or netrc from the environment (requests
            # would read all of it again for every webhook).
            session.trust_env = False
            adapter = HTTPAdapter(max_retries=RESEND)
            session.mount("http://", adapter)
            session.mount("https://", adapter)
            self._local.session = session
        return session

    def send(
        self, url: str, params: Mapping[str, str], *, purpose: str, method: str = "POST"
    ) -> WebhookReply:
        """Send one webhook; never raises for network or HTTP errors."""
        if self._stopping.is_set():
            return WebhookReply(0, "")
        headers = {"User-Agent": USER_AGENT, "I-Twilio-Idempotency-Token": str(uuid.uuid4())}
        try:
            if method.upper() == "GET":
                separator = "&" if urlsplit(url).query else "?"
                full_url = url + separator + urlencode(params) if params else url
                headers[SIGNATURE_HEADER] = compute_signature(self._auth_token, full_url, {})
                response = self._session().get(
                    full_url, headers=headers, timeout=(CONNECT_TIMEOUT_S, TOTAL_TIMEOUT_S)
                )
            else:
                headers[SIGNATURE_HEADER] = compute_signature(self._auth_token, url, params)
                response = self._session().post(
                    url,
                    data=dict(params),
                    headers=headers,
                    timeout=(CONNECT_TIMEOUT_S, TOTAL_TIMEOUT_S),
                )
        except requests.RequestException as error:
            if not self._stopping.is_set():
                log.warning("webhook %s failed: %s", purpose, type(error).__name__)
                self._ledger.record(
                    "webhook", purpose=purpose, path=urlsplit(url).path, error=type(error).__name__
                )
            return WebhookReply(0, "")
        if not 200 <= response.status_code < 300:
            log.warning("webhook %s answered HTTP %s", purpose, response.status_code)
            self._ledger.record(
                "webhook", purpose=purpose, path=urlsplit(url).path, status=response.status_code
            )
        return WebhookReply(response.status_code, response.text)
