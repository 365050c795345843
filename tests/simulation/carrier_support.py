"""Helpers for the carrier simulator tests: settings, a webhook receiver playing our app's part.

``WebhookReceiver`` is a small werkzeug server standing where our web app stands: it checks every
request's ``X-Twilio-Signature`` with the SDK's ``RequestValidator`` against the URL it was sent
to, records it, and answers with the project's real TwiML (``rmc_outreach.telephony.twiml``) for
the contact flow. For the handler side (issue 4) it plays a minimal ACD of its own, built with the
SDK's ``VoiceResponse`` (so these tests do not depend on the engine): handoff queues
``handoff-<id>`` with a wait URL offering a callback, handler legs ("offers") whose answer TwiML
whispers and dials the queue (or a number), and the console's JSON API, which it records.
"""

from __future__ import annotations

import itertools
import json
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from twilio.request_validator import RequestValidator
from twilio.rest import Client
from twilio.twiml.voice_response import Dial, Gather, VoiceResponse
from werkzeug.routing import Map, Rule
from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server
from werkzeug.wrappers import Request, Response

from rmc_outreach.config import Settings, load_settings
from rmc_outreach.messages import default_public_context, render_voice
from rmc_outreach.simulation.carrier import PopulationConfig, RunningSimulator, start_simulator
from rmc_outreach.simulation.carrier.staff import StaffConfig, sim_handler_password
from rmc_outreach.telephony import twiml
from rmc_outreach.telephony.base import CallRequest, SmsRequest
from rmc_outreach.telephony.twilio_provider import LocalEndpointHttpClient, TwilioProvider
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
    json: dict[str, Any] | None = None
    method: str = "POST"
    csrf_token: str | None = None


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
        # The handler side: handoff queues, offers (handler legs) and the console API.
        self.handoff_mode = False  # keypad 1 joins queue handoff-<id> (else "booking-team")
        self.handoff_hold_rounds: int | None = None  # wait rounds before <Leave/> (None: never)
        self.wait_pause_s = 5
        self.handoffs: dict[uuid.UUID, int] = {}
        self.offers: dict[int, str] = {}  # offer id -> "queue:<handoff id>" or "number:<E.164>"
        self.console_wrap_up: dict[int, int] = {}  # handler id -> handoff id (GET console)
        self.console_connected: dict[int, int] = {}  # handler id -> handoff id still connected
        self.sign_ins: list[tuple[str, str | None]] = []  # (username, CSRF token sent)
        self.refuse_sign_in: set[str] = set()  # usernames whose sign-in is refused (401)
        self.on_handoff: Callable[[int], None] | None = None
        # Called with (handoff id, wait round from 1) before a wait request is answered.
        self.on_wait: Callable[[int, int], None] | None = None
        self._handoff_ids = itertools.count(101)
        self._lock = threading.Lock()
        self._map = Map(
            [
                Rule("/twilio/voice/<uuid:attempt>/<kind>", endpoint="voice"),
                Rule("/twilio/sms/<uuid:attempt>/status", endpoint="sms_status"),
                Rule("/twilio/sms/inbound", endpoint="sms_inbound"),
                Rule("/twilio/handoff/<int:handoff>/<kind>", endpoint="handoff"),
                Rule("/twilio/offer/<int:offer>/<kind>", endpoint="offer"),
                Rule("/api/console/<int:handler>", endpoint="console"),
                Rule("/api/console/<int:handler>/<kind>", endpoint="console"),
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

    def _sign_in_answer(self, request: Request) -> Response:
        """The console's sign-in, as far as simulated handlers use it: a CSRF token from
        /api/session, then POST /login (JSON) with it and the handler's derived password."""
        if request.path == "/api/session":
            body: dict[str, Any] = {"signed_in": False, "csrf_token": "session-token"}
            return Response(json.dumps(body), mimetype="application/json")
        payload = request.get_json(silent=True) or {}
        username = str(payload.get("username", ""))
        with self._lock:
            self.sign_ins.append((username, request.headers.get("X-CSRFToken")))
            refused = username in self.refuse_sign_in
        if request.headers.get("X-CSRFToken") != "session-token":
            return Response("{}", status=400, mimetype="application/json")
        if refused or payload.get("password") != sim_handler_password(AUTH_TOKEN, username):
            return Response("{}", status=401, mimetype="application/json")
        body = {"user": {"role": "handler"}, "csrf_token": f"token-{username}"}
        return Response(json.dumps(body), mimetype="application/json")

    def _app(self, environ: Any, start_response: Any) -> Any:
        request = Request(environ)
        if request.path in ("/api/session", "/login"):
            return self._sign_in_answer(request)(environ, start_response)
        form = request.form.to_dict()
        payload = request.get_json(silent=True) if request.is_json else None
        valid = RequestValidator(AUTH_TOKEN).validate(
            request.url, request.form, request.headers.get("X-Twilio-Signature", "")
        )
        with self._lock:
            self.received.append(
                Received(
                    request.path, request.args.to_dict(), form, valid, json=payload,
                    method=request.method, csrf_token=request.headers.get("X-CSRFToken"),
                )
            )  # fmt: skip
        endpoint, values = self._map.bind_to_environ(environ).match()
        if endpoint == "console":
            answer = self._console(values["handler"], values.get("kind"), payload or {})
            return Response(json.dumps(answer), mimetype="application/json")(
                environ, start_response
            )
        body = ""
        if endpoint == "voice":
            body = self._voice(values["attempt"], values["kind"], request, form)
        elif endpoint == "handoff":
            body = self._handoff(values["handoff"], values["kind"], form)
        elif endpoint == "offer":
            body = self._offer(values["offer"], values["kind"])
        elif endpoint == "sms_inbound":
            body = "<Response/>"
        mimetype = "text/xml" if body else "text/plain"
        return Response(body, status=200 if body else 204, mimetype=mimetype)(
            environ, start_response
        )

    # -- the handler side (a minimal ACD of the receiver's own) --------------------------------

    def _url(self, path: str) -> str:
        return f"{self.base_url}{path}"

    def _enqueue_handoff(self, attempt: uuid.UUID) -> str:
        handoff = next(self._handoff_ids)
        with self._lock:
            self.handoffs[attempt] = handoff
        if self.on_handoff is not None:
            self.on_handoff(handoff)
        response = VoiceResponse()
        response.say("Please hold for the booking team.")
        response.enqueue(
            f"handoff-{handoff}",
            action=self._url(f"/twilio/handoff/{handoff}/result"),
            wait_url=self._url(f"/twilio/handoff/{handoff}/wait"),
            wait_url_method="POST",
        )
        response.say("Nobody could take your call. We will call you back.")
        response.hangup()
        return str(response)

    def _handoff(self, handoff: int, kind: str, form: dict[str, str]) -> str:
        response = VoiceResponse()
        if kind == "wait":
            rounds = len(self.of_kind("wait", f"/handoff/{handoff}/"))
            if self.on_wait is not None:
                self.on_wait(handoff, rounds)
            if self.handoff_hold_rounds is not None and rounds > self.handoff_hold_rounds:
                response.leave()
                return str(response)
            gather = Gather(
                num_digits=1,
                action=self._url(f"/twilio/handoff/{handoff}/wait-choice"),
                timeout=1,
            )
            gather.say(f"You are number {form.get('QueuePosition', '1')} in the queue.")
            gather.say("Press 1 to ask us to call you back instead.")
            gather.pause(length=self.wait_pause_s)
            response.append(gather)
        elif kind == "wait-choice" and form.get("Digits") == "1":
            response.say("Thank you. We will call you back.")
            response.hangup()
        elif kind == "result":
            if form.get("QueueResult") == "leave":
                response.say("Nobody could take your call. We will call you back.")
            response.hangup()
        return str(response)

    def _offer(self, offer: int, kind: str) -> str:
        response = VoiceResponse()
        if kind == "answer":
            target, _, value = self.offers.get(offer, "queue:0").partition(":")
            response.say("Booking call: referral ending 1234, routine, cardiology.")
            timeout = 5 if target == "queue" else 25  # the queue wait; the patient's ringing
            dial = Dial(action=self._url(f"/twilio/offer/{offer}/dial-end"), timeout=timeout)
            bridged = self._url(f"/twilio/offer/{offer}/bridged")
            if target == "queue":
                dial.queue(f"handoff-{value}", url=bridged)
            else:
                dial.number(value, url=bridged)
            response.append(dial)
            response.hangup()
        elif kind == "dial-end":
            response.hangup()
        elif kind == "status":
            return ""
        return str(response)

    def _console(self, handler: int, kind: str | None, payload: dict[str, Any]) -> dict[str, Any]:
        if kind is None:
            handoff = self.console_wrap_up.get(handler)
            connected = self.console_connected.get(handler)
            return {
                "connected": None if connected is None else {"handoff_id": connected},
                "wrap_up": None if handoff is None else {"handoff_id": handoff},
            }
        return {"state": payload.get("state", "available")}

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
        if digits == "1" and self.handoff_mode:
            return self._enqueue_handoff(attempt)
        if digits == "1":  # the issue-3 flow: one shared queue, nobody answers
            response = VoiceResponse()
            response.say(render_voice("hold", CONTEXT))
            response.enqueue("booking-team", wait_url=self.urls.call_wait(attempt))
            response.say(render_voice("no_handler", CONTEXT))
            response.hangup()
            return str(response)
        goodbyes = {"2": "sms_requested", "3": "declined"}
        if digits in goodbyes:
            return twiml.say_then_hang_up(goodbyes[digits], CONTEXT)
        return twiml.repeat_options(attempt, CONTEXT, self.urls, round_number + 1)

    def of_kind(self, kind: str, attempt: uuid.UUID | str | None = None) -> list[Received]:
        """Requests whose path ends in ``kind`` (and contains ``attempt``, if given)."""
        with self._lock:
            return [
                item
                for item in self.received
                if item.path.endswith("/" + kind) and (attempt is None or str(attempt) in item.path)
            ]

    def console_looks(self, handler: int) -> int:
        """How many times the handler's console was read (GET /api/console/<handler>)."""
        path = f"/api/console/{handler}"
        return sum(1 for item in self.received if item.path == path and item.method == "GET")

    def console_posts(self, kind: str) -> list[Received]:
        """JSON posts to the console API ending in ``kind`` (state, outcome)."""
        return [item for item in self.of_kind(kind) if item.path.startswith("/api/console/")]

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

    def ring_handler(
        self,
        endpoint: str,
        offer: int,
        target: str,
        *,
        ring_timeout_s: int = 20,
        events: tuple[str, ...] = ("completed",),
    ) -> str:
        """Ring a handler endpoint as the ACD does (no AMD); ``target`` is ``queue:<handoff id>``
        or ``number:<E.164>``. Returns the call SID."""
        self.receiver.offers[offer] = target
        client = Client(
            ACCOUNT_SID,
            AUTH_TOKEN,
            http_client=LocalEndpointHttpClient(self.simulator.base_url),
        )
        call = client.calls.create(
            to=endpoint,
            from_=OUR_NUMBER,
            url=self.receiver._url(f"/twilio/offer/{offer}/answer"),
            status_callback=self.receiver._url(f"/twilio/offer/{offer}/status"),
            status_callback_event=list(events),
            timeout=ring_timeout_s,
        )
        sid: str = call.sid
        return sid

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
    staff: StaffConfig | None = None,
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
        staff=staff,
    )
    provider = TwilioProvider(replace(settings, twilio_api_base_url=simulator.base_url))
    try:
        yield Harness(simulator, receiver, settings, provider)
    finally:
        simulator.stop()
        receiver.stop()
