"""Helpers for the carrier simulator tests: settings, a webhook receiver playing our app's part.

``WebhookReceiver`` is a small werkzeug server standing where our web app stands: it checks every
request's ``X-Twilio-Signature`` with the SDK's ``RequestValidator`` against the URL it was sent
to, records it, and answers with the project's real TwiML (``rmc_outreach.telephony.twiml``).
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from twilio.request_validator import RequestValidator
from werkzeug.routing import Map, Rule
from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server
from werkzeug.wrappers import Request, Response

from rmc_outreach.config import Settings, load_settings
from rmc_outreach.messages import default_public_context
from rmc_outreach.simulation.carrier import PopulationConfig, RunningSimulator, start_simulator
from rmc_outreach.telephony import twiml
from rmc_outreach.telephony.base import CallRequest, SmsRequest
from rmc_outreach.telephony.twilio_provider import TwilioProvider
from rmc_outreach.telephony.urls import WebhookUrls

ACCOUNT_SID = "AC" + "5" * 32
AUTH_TOKEN = "simulator-test-token"
OUR_NUMBER = "+441632960000"
TIME_SCALE = 200.0
CONTEXT = default_public_context()


def make_settings(var_dir: Path, public_base_url: str, **extra: str) -> Settings:
    """Development settings for the simulator tests."""
    env = {
        "RMC_VAR_DIR": str(var_dir),
        "TWILIO_ACCOUNT_SID": ACCOUNT_SID,
        "TWILIO_AUTH_TOKEN": AUTH_TOKEN,
        "TWILIO_CALLER_ID": OUR_NUMBER,
        "PUBLIC_BASE_URL": public_base_url,
    }
    env.update(extra)
    return load_settings(env)


def quiet_population(**overrides: Any) -> PopulationConfig:
    """A population where nothing happens by chance unless a test asks for it."""
    values: dict[str, Any] = {
        "dead_number_share": 0.0,
        "wrong_number_share": 0.0,
        "fax_share": 0.0,
        "answering_machine_share": 0.0,
        "answer_rate_override": 1.0,
        "busy_rate": 0.0,
        "amd_human_as_machine_rate": 0.0,
        "amd_human_unknown_rate": 0.0,
        "amd_machine_as_human_rate": 0.0,
        "early_hang_up_rate": 0.0,
        "queue_patience_s": (5000.0, 5000.0),
        "sms_reply_weights": {"": 1.0},
        "sms_reply_delay_median_s": 30.0,
    }
    values.update(overrides)
    return PopulationConfig(**values)


@dataclass
class Received:
    """One webhook the receiver got."""

    path: str
    query: dict[str, str]
    form: dict[str, str]
    signature_valid: bool
    at: float = field(default_factory=time.monotonic)


class _Quiet(WSGIRequestHandler):
    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        """No access log in tests."""


class WebhookReceiver:
    """Our app's webhooks, as far as the tests need them."""

    def __init__(self, hold_rounds: int = 2) -> None:
        self.received: list[Received] = []
        self.hold_rounds = hold_rounds
        self.on_amd: Callable[[str, str], None] | None = None
        self.answer_twiml: Callable[[uuid.UUID], str] | None = None
        self._lock = threading.Lock()
        self._map = Map(
            [
                Rule("/twilio/voice/<uuid:attempt>/<kind>", endpoint="voice"),
                Rule("/twilio/sms/<uuid:attempt>/status", endpoint="sms_status"),
                Rule("/twilio/sms/inbound", endpoint="sms_inbound"),
            ]
        )
        self._server: BaseWSGIServer = make_server(
            "127.0.0.1", 0, self._app, threaded=True, request_handler=_Quiet
        )
        self.base_url = f"http://127.0.0.1:{self._server.server_port}"
        self.urls = WebhookUrls(self.base_url)
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        """Stop serving."""
        self._server.shutdown()
        self._thread.join(timeout=5)

    def _app(self, environ: Any, start_response: Any) -> Any:
        request = Request(environ)
        form = request.form.to_dict()
        valid = RequestValidator(AUTH_TOKEN).validate(
            request.url, request.form, request.headers.get("X-Twilio-Signature", "")
        )
        with self._lock:
            self.received.append(Received(request.path, request.args.to_dict(), form, valid))
        endpoint, values = self._map.bind_to_environ(environ).match()
        body = ""
        if endpoint == "voice":
            body = self._voice(values["attempt"], values["kind"], request, form)
        elif endpoint == "sms_inbound":
            body = "<Response/>"
        mimetype = "text/xml" if body else "text/plain"
        return Response(body, status=200 if body else 204, mimetype=mimetype)(
            environ, start_response
        )

    def _voice(self, attempt: uuid.UUID, kind: str, request: Request, form: dict[str, str]) -> str:
        if kind == "answer":
            if self.answer_twiml is not None:
                return self.answer_twiml(attempt)
            return twiml.greeting(attempt, CONTEXT, self.urls)
        if kind == "choice":
            return self._choice(attempt, form.get("Digits", ""), int(request.args["round"]))
        if kind == "wait":
            if len(self.of_kind("wait", attempt)) > self.hold_rounds:
                return "<Response><Leave/></Response>"
            return f"<Response><Say>{CONTEXT.service_name}: please hold.</Say></Response>"
        if kind == "amd" and self.on_amd is not None:
            self.on_amd(form["CallSid"], form["AnsweredBy"])
        return ""

    def _choice(self, attempt: uuid.UUID, digits: str, round_number: int) -> str:
        if digits == "1":
            return twiml.to_booking_team(attempt, CONTEXT, self.urls)
        goodbyes = {"2": "sms_requested", "3": "declined"}
        if digits in goodbyes:
            return twiml.say_then_hang_up(goodbyes[digits], CONTEXT)
        return twiml.repeat_options(attempt, CONTEXT, self.urls, round_number + 1)

    def of_kind(self, kind: str, attempt: uuid.UUID | None = None) -> list[Received]:
        """Requests whose path ends in ``kind`` (for one attempt, if given)."""
        with self._lock:
            return [
                item
                for item in self.received
                if item.path.endswith("/" + kind) and (attempt is None or str(attempt) in item.path)
            ]

    def wait_for(self, predicate: Callable[[], bool], timeout_s: float = 10.0) -> None:
        """Wait until ``predicate()`` holds; fail the test if it never does."""
        deadline = time.monotonic() + timeout_s
        while not predicate():
            if time.monotonic() > deadline:
                raise AssertionError("timed out waiting for the simulator")
            time.sleep(0.01)


@dataclass
class Harness:
    """A running simulator, the receiver behind it, and a provider pointed at it."""

    simulator: RunningSimulator
    receiver: WebhookReceiver
    settings: Settings
    provider: TwilioProvider

    def call(
        self,
        to: str,
        attempt: uuid.UUID | None = None,
        status_events: tuple[str, ...] = ("completed",),
    ) -> tuple[uuid.UUID, str]:
        """Place a call through the provider; returns (attempt id, call SID)."""
        attempt = attempt or uuid.uuid4()
        urls = self.receiver.urls
        placed = self.provider.place_call(
            CallRequest(
                to=to,
                caller_id=OUR_NUMBER,
                answer_url=urls.call_answer(attempt),
                status_callback_url=urls.call_status(attempt),
                amd_callback_url=urls.call_amd(attempt),
                status_events=status_events,
            )
        )
        return attempt, placed.sid

    def sms(self, to: str, body: str = "Please call us to book.") -> tuple[uuid.UUID, str]:
        """Send an SMS through the provider; returns (attempt id, message SID)."""
        attempt = uuid.uuid4()
        sent = self.provider.send_sms(
            SmsRequest(
                to=to,
                sender=OUR_NUMBER,
                body=body,
                status_callback_url=self.receiver.urls.sms_status(attempt),
            )
        )
        return attempt, sent.sid


@contextmanager
def harness(
    tmp_path: Path,
    population: PopulationConfig | None = None,
    *,
    seed: int = 7,
    time_scale: float = TIME_SCALE,
    validation: str = "openapi-core",
) -> Iterator[Harness]:
    """Receiver, simulator (ledger file under tmp_path) and provider; all stopped after."""
    receiver = WebhookReceiver()
    settings = make_settings(tmp_path / "var", receiver.base_url)
    simulator = start_simulator(
        settings,
        seed=seed,
        time_scale=time_scale,
        population=population or quiet_population(),
        ledger_path=tmp_path / "ledger.jsonl",
        validation=validation,  # type: ignore[arg-type]
    )
    provider = TwilioProvider(replace(settings, twilio_api_base_url=simulator.base_url))
    try:
        yield Harness(simulator, receiver, settings, provider)
    finally:
        simulator.stop()
        receiver.stop()
