"""Simulated call handlers: they answer calls to ``client:``/``sip:`` endpoints and use the console.

A handler endpoint is ``client:<identity>`` or ``sip:<identity>@<host>``. Identities
``sim_handler_1`` .. ``sim_handler_<count>`` (and any listed in ``handler_ids``) are simulated
handlers; any other client or SIP identity rings out unanswered (no-answer at the ring timeout),
as an unregistered Twilio client would. (Twilio client identities allow letters, digits and
underscores only, as ``rmc_outreach.handlers.normalise_endpoint`` does, hence the underscores.)

A simulated handler (``StaffConfig``, all seeded by (seed, identity, n-th call)):

- answers after 2-6 s, or lets 3 % of calls ring out; a handler already on a call is ``busy``;
- talks for a log-normal time (median 150 s, 30-900 s), then hangs up;
- after a bridged call, wraps up for 10-45 s, then POSTs ``/api/console/<handler_id>/outcome``
  (JSON; outcome drawn from ``outcome_weights``, mostly ``booked`` with a date and a clinic), which
  makes them available again. As a person at the console can only once the console shows the
  call ended (its outcome form for that call appears then), the handler first looks at the
  console: until it shows this call in wrap-up (our worker may not have applied the call's
  bridge or end yet), they look again every ``OUTCOME_LOOK_AGAIN_S`` simulated seconds,
  ``OUTCOME_LOOKS`` times at most, then post anyway (the refusal is ledgered);
- after a call they did not answer (our engine then makes them ``away``), comes back after
  20-90 s: POST ``/api/console/<handler_id>/state`` ``{"state": "available"}``;
- at start, signs in: POST state ``available`` for every handler with a known id (retried until
  the web process answers).

Each simulated handler has its own web session, as a person at a browser would: before its first
console request it signs in as the user ``sim_handler_K`` (``GET /api/session`` for a CSRF token,
then ``POST /login`` as JSON), with the password ``sim_handler_password`` derives from the
simulator's auth token (the demo gives the user that password: ``rmc_outreach.demo_carrier``),
and every POST carries the session's CSRF token in ``X-CSRFToken``. A 401 (the session timed
out) signs in again and repeats the request once.

The console is the web process at the public base URL the carrier posts webhooks to. Handler ids
come from ``handler_ids`` (identity → our handler id; the demo reads them from the database).
Every post is written to the ledger (``handler_post``), and so are handler legs and wrap-ups.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import math
import random
import re
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from datetime import time as time_of_day
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote

import requests

from rmc_outreach import clock
from rmc_outreach.calendar import CallingWindow
from rmc_outreach.simulation.carrier.ledger import Ledger
from rmc_outreach.simulation.carrier.population import CallPlan, _digest

if TYPE_CHECKING:
    from rmc_outreach.simulation.carrier.timing import Scheduler

log = logging.getLogger(__name__)
# The service's default calling hours (Monday-Friday 08:00-18:00 Europe/London).
CALLING_WINDOW = CallingWindow()

HANDLER_SCHEMES = ("client:", "sip:", "sips:")
SIM_IDENTITY = re.compile(r"^sim_handler_\d+$")
HANDOFF_QUEUE = re.compile(r"^handoff-(\d+)$")
CONNECT_TIMEOUT_S = 5.0
TOTAL_TIMEOUT_S = 15.0
SIGN_IN_RETRY_S = 1.0
# Before recording an outcome, a handler waits (up to 10 simulated minutes) for the console to
# show the call in wrap-up.
OUTCOME_LOOK_AGAIN_S = 2.0
OUTCOME_LOOKS = 300
OUTCOMES = ("booked", "declined", "callback", "wrong_number", "not_patient", "other")


def sim_handler_password(auth_token: str, identity: str) -> str:
    """The console password of a simulated handler: derived from the run's throw-away Twilio auth
    token, which both the simulator and the demo that creates the user know."""
    message = f"rmc-outreach simulated handler sign-in: {identity}".encode()
    return hmac.new(auth_token.encode(), message, hashlib.sha256).hexdigest()


def is_handler_endpoint(to: str) -> bool:
    """True for ``client:`` and ``sip:``/``sips:`` destinations (not phone numbers)."""
    return to.lower().startswith(HANDLER_SCHEMES)


def identity_of(to: str) -> str:
    """The identity in ``client:<identity>`` or ``sip:<identity>@host``."""
    scheme, _, rest = to.partition(":")
    if scheme.lower() == "client":
        return rest
    return unquote(rest.split("@", 1)[0].split(";", 1)[0])


def sim_identity(number: int) -> str:
    """The identity of the n-th simulated handler (from 1)."""
    return f"sim_handler_{number}"


@dataclass(frozen=True)
class StaffConfig:
    """How many simulated handlers there are and how they behave (module docstring)."""

    count: int = 0
    handler_ids: dict[str, int] = field(default_factory=dict)
    answer_delay_s: tuple[float, float] = (2.0, 6.0)
    no_answer_rate: float = 0.03
    talk_median_s: float = 150.0
    talk_sigma: float = 0.45
    talk_bounds_s: tuple[float, float] = (30.0, 900.0)
    wrap_up_s: tuple[float, float] = (10.0, 45.0)
    back_after_missed_s: tuple[float, float] = (20.0, 90.0)
    outcome_weights: dict[str, float] = field(
        default_factory=lambda: {
            "booked": 0.78,
            "declined": 0.06,
            "callback": 0.08,
            "wrong_number": 0.02,
            "not_patient": 0.02,
            "other": 0.04,
        }
    )
    clinics: tuple[str, ...] = (
        "Outpatients A",
        "Outpatients B",
        "Day Treatment Unit",
        "Community Clinic",
    )
    booked_within_days: tuple[int, int] = (3, 42)
    sign_in: bool = True
    sign_in_give_up_s: float = 300.0  # real seconds

    def __post_init__(self) -> None:
        if self.count < 0:
            raise ValueError("the number of simulated handlers cannot be negative")
        if not 0.0 <= self.no_answer_rate <= 1.0:
            raise ValueError("no_answer_rate must be between 0 and 1")
        unknown = set(self.outcome_weights) - set(OUTCOMES)
        weights = self.outcome_weights.values()
        if unknown or not weights or any(w < 0 for w in weights) or sum(weights) <= 0:
            raise ValueError("outcome_weights needs known outcomes with a positive sum")

    def identities(self) -> list[str]:
        """Every simulated identity: sim_handler_1..count, then those only in handler_ids."""
        names = [sim_identity(n) for n in range(1, self.count + 1)]
        return names + sorted(set(self.handler_ids) - set(names))


@dataclass
class SimHandler:
    """One simulated handler's running state."""

    identity: str
    handler_id: int | None
    legs: int = 0  # calls rung so far (the index of the next leg's random stream)
    calls_taken: int = 0
    live_sid: str | None = None
    awaiting_outcome: bool = False
    signed_in: bool = False


@dataclass
class HandlerLeg:
    """A call to a handler endpoint: what the handler will do, and what happened."""

    identity: str
    handler: SimHandler | None
    index: int
    talk_s: float
    wrap_up_s: float
    answered: bool = False
    bridged: bool = False
    talked_s: float = 0.0
    queue: str | None = None
    handoff_id: int | None = None


@dataclass
class _ConsoleSession:
    """One simulated handler's web session: cookies, the CSRF token once signed in, and a lock
    (one request at a time per handler, as one person at one browser)."""

    http: requests.Session = field(default_factory=requests.Session)
    csrf_token: str | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)


def _between(bounds: tuple[float, float], draw: float) -> float:
    return bounds[0] + (bounds[1] - bounds[0]) * draw


def _pick(weights: dict[str, float], draw: float) -> str:
    total, running = sum(weights.values()), 0.0
    for name, weight in weights.items():
        running += weight / total
        if draw < running:
            return name
    return next(reversed(weights))


class Staff:
    """The simulated handlers of one simulator, and their console traffic."""

    def __init__(
        self,
        config: StaffConfig,
        *,
        seed: int,
        ledger: Ledger,
        scheduler: Scheduler,
        stopping: threading.Event,
        console_base_url: str,
        auth_token: str = "",
    ) -> None:
        self.config = config
        self.auth_token = auth_token
        self.seed = seed
        self.ledger = ledger
        self.scheduler = scheduler
        self.stopping = stopping
        self.console_base_url = console_base_url.rstrip("/")
        self._lock = threading.Lock()
        self.handlers: dict[str, SimHandler] = {
            identity: SimHandler(identity, config.handler_ids.get(identity))
            for identity in config.identities()
        }
        self._consoles: dict[str, _ConsoleSession] = {
            identity: _ConsoleSession() for identity in self.handlers
        }

    def is_simulated(self, identity: str) -> bool:
        """True when this identity is one of our simulated handlers."""
        return identity in self.handlers

    # -- ringing ------------------------------------------------------------------------------

    def plan_leg(self, to: str, ring_timeout_s: float) -> tuple[CallPlan, HandlerLeg]:
        """What happens when ``to`` (a handler endpoint) is rung (deterministic per seed)."""
        identity = identity_of(to)
        handler = self.handlers.get(identity)
        if handler is None:
            leg = HandlerLeg(identity, None, 0, 0.0, 0.0)
            return CallPlan("no-answer", ring_s=float(ring_timeout_s)), leg
        config = self.config
        with self._lock:
            index = handler.legs
            handler.legs += 1
            busy = handler.live_sid is not None
        rng = random.Random(_digest(self.seed, identity, "leg", index))
        answers = rng.random() >= config.no_answer_rate
        ring_s = _between(config.answer_delay_s, rng.random())
        talk = math.exp(math.log(config.talk_median_s) + config.talk_sigma * rng.gauss())
        talk = min(max(talk, config.talk_bounds_s[0]), config.talk_bounds_s[1])
        leg = HandlerLeg(identity, handler, index, talk, _between(config.wrap_up_s, rng.random()))
        if busy:
            return CallPlan("busy", ring_s=rng.uniform(0.5, 2.0)), leg
        if not answers or ring_s >= ring_timeout_s:
            return CallPlan("no-answer", ring_s=float(ring_timeout_s)), leg
        plan = CallPlan("human", ring_s, keypad=(), queue_patience_s=math.inf, bridged_s=talk)
        return plan, leg

    def leg_answered(self, call_sid: str, leg: HandlerLeg) -> None:
        """The handler picked up: they are on this call until it ends."""
        leg.answered = True
        if leg.handler is not None:
            with self._lock:
                leg.handler.live_sid = call_sid

    def leg_ended(
        self, call_sid: str, leg: HandlerLeg, *, status: str, duration_s: int, ended_by: str
    ) -> None:
        """Ledger the leg; after a bridged call start the wrap-up, after a missed one the return."""
        handler = leg.handler
        self.ledger.record(
            "handler_leg",
            sid=call_sid,
            identity=leg.identity,
            handler_id=handler.handler_id if handler else None,
            simulated=handler is not None,
            status=status,
            answered=leg.answered,
            bridged=leg.bridged,
            talk_s=round(leg.talked_s, 1),
            duration_s=duration_s,
            queue=leg.queue,
            handoff_id=leg.handoff_id,
            ended_by=ended_by,
        )
        if handler is None or self.stopping.is_set():
            return
        with self._lock:
            if handler.live_sid == call_sid:
                handler.live_sid = None
            if leg.bridged:
                handler.awaiting_outcome = True
        if leg.bridged:
            started = clock.now()
            self.scheduler.call_later(
                leg.wrap_up_s, lambda: self._wrap_up_done(handler, leg, call_sid, started)
            )
        elif not leg.answered and status != "busy":
            rng = random.Random(_digest(self.seed, leg.identity, "back", leg.index))
            delay = _between(self.config.back_after_missed_s, rng.random())
            self.scheduler.call_later(delay, lambda: self._back_after_missed(handler))

    # -- the console --------------------------------------------------------------------------

    def _signed_in(self, handler: SimHandler, console: _ConsoleSession) -> int | None:
        """Sign this handler in unless their session is; None when signed in, else the status
        that refused it (0 when the web process did not answer)."""
        if console.csrf_token is not None:
            return None
        timeout = (CONNECT_TIMEOUT_S, TOTAL_TIMEOUT_S)
        try:
            token = console.http.get(f"{self.console_base_url}/api/session", timeout=timeout)
            if not token.ok:
                return token.status_code
            response = console.http.post(
                f"{self.console_base_url}/login",
                json={
                    "username": handler.identity,
                    "password": sim_handler_password(self.auth_token, handler.identity),
                },
                headers={"X-CSRFToken": token.json()["csrf_token"]},
                timeout=timeout,
            )
            if not response.ok:
                status = response.status_code
                log.info("console sign-in for %s answered %s", handler.identity, status)
                return status
            console.csrf_token = response.json()["csrf_token"]
        except (requests.RequestException, ValueError, KeyError):
            return 0
        return None

    def _console_request(
        self, handler: SimHandler, method: str, url: str, payload: dict[str, Any] | None = None
    ) -> requests.Response | int:
        """A console request in the handler's own signed-in session (signing in first, and again
        once after a 401); the response, or the status that stopped it (0: no answer)."""
        console = self._consoles.setdefault(handler.identity, _ConsoleSession())
        with console.lock:
            for _ in range(2):
                refused = self._signed_in(handler, console)
                if refused is not None:
                    return refused
                response = console.http.request(
                    method,
                    url,
                    json=payload,
                    headers={"X-CSRFToken": console.csrf_token or ""},
                    timeout=(CONNECT_TIMEOUT_S, TOTAL_TIMEOUT_S),
                )
                if response.status_code != 401:
                    return response
                console.csrf_token = None  # the session ended: sign in again
            return response

    def _console_url(self, handler_id: int, suffix: str = "") -> str:
        return f"{self.console_base_url}/api/console/{handler_id}{suffix}"

    def _post(
        self,
        handler: SimHandler,
        suffix: str,
        payload: dict[str, Any],
        *,
        purpose: str,
        retrying: bool = False,
    ) -> int:
        """POST JSON to the handler's console API; the HTTP status (0 when unreachable).

        Ledgered, except a failure (unreachable, 5xx) that will be retried (``retrying``)."""
        if handler.handler_id is None:
            self.ledger.record(
                "handler_post", identity=handler.identity, handler_id=None, purpose=purpose,
                status=0, error="no_handler_id",
            )  # fmt: skip
            return 0
        try:
            answer = self._console_request(
                handler, "POST", self._console_url(handler.handler_id, suffix), payload
            )
            if isinstance(answer, int):
                status, error = answer, "sign_in_refused" if answer else "unreachable"
            else:
                status, error = answer.status_code, None
        except requests.RequestException as failure:
            status, error = 0, type(failure).__name__
        if retrying and (status == 0 or status >= 500):
            return status
        fields: dict[str, Any] = {
            "identity": handler.identity,
            "handler_id": handler.handler_id,
            "purpose": purpose,
            "status": status,
        }
        fields.update({k: payload[k] for k in ("state", "outcome", "handoff_id") if k in payload})
        if error:
            fields["error"] = error
        self.ledger.record("handler_post", **fields)
        if not 200 <= status < 300:
            log.info("console %s for %s answered %s", purpose, handler.identity, status or error)
        return status

    def _handoff_for(self, handler: SimHandler, leg: HandlerLeg) -> int | None:
        """The handoff to record the outcome on: from the queue name, else the console's
        ``wrap_up.handoff_id`` (e.g. after "call this patient now", which has no queue)."""
        if leg.handoff_id is not None or handler.handler_id is None:
            return leg.handoff_id
        _readable, handoff = self._console_wrap_up(handler)
        return handoff

    def _console_wrap_up(self, handler: SimHandler) -> tuple[bool, int | None]:
        """(whether the console could be read, the handoff it shows in wrap-up)."""
        if handler.handler_id is None:
            return False, None
        try:
            response = self._console_request(handler, "GET", self._console_url(handler.handler_id))
            if isinstance(response, int) or not response.ok:
                return False, None
            data = response.json()
        except (requests.RequestException, ValueError):
            return False, None
        wrap_up = data.get("wrap_up") if isinstance(data, dict) else None
        handoff = wrap_up.get("handoff_id") if isinstance(wrap_up, dict) else None
        return True, handoff if isinstance(handoff, int) else None

    def outcome_payload(self, handler: SimHandler, index: int) -> dict[str, Any]:
        """The outcome the handler records for their ``index``-th bridged call (seeded)."""
        config = self.config
        rng = random.Random(_digest(self.seed, handler.identity, "outcome", index))
        outcome = _pick(config.outcome_weights, rng.random())
        payload: dict[str, Any] = {"outcome": outcome}
        today = clock.now().date()
        if outcome == "booked":
            low, high = config.booked_within_days
            payload["booked_for"] = (today + timedelta(days=rng.randint(low, high))).isoformat()
            payload["clinic"] = rng.choice(config.clinics)
        elif outcome == "callback":
            # A time the patient asked for: in calling hours on a working day (the console
            # refuses any other), one to three days ahead.
            day = today + timedelta(days=rng.randint(1, 3))
            moment = CALLING_WINDOW.open_at(day, time_of_day(rng.choice((10, 11, 14, 15))))
            payload["callback_at"] = moment.replace(microsecond=0).isoformat()
        elif outcome == "other":
            payload["note"] = "Simulated handler: patient will ring back after checking dates."
        return payload

    def _wrap_up_done(
        self, handler: SimHandler, leg: HandlerLeg, call_sid: str, started: datetime
    ) -> None:
        if self.stopping.is_set():
            return
        with self._lock:
            index = handler.calls_taken
            handler.calls_taken += 1
        payload = self.outcome_payload(handler, index)
        handoff_id = self._handoff_for(handler, leg)
        payload = {"handoff_id": handoff_id, **payload}
        ended = clock.now()
        self.ledger.record(
            "wrap_up",
            identity=handler.identity,
            handler_id=handler.handler_id,
            call_sid=call_sid,
            handoff_id=handoff_id,
            started_at=started.isoformat(),
            ended_at=ended.isoformat(),
            seconds=round(leg.wrap_up_s, 1),  # simulated seconds
        )
        self._record_outcome(handler, payload, looks=0)

    def _record_outcome(self, handler: SimHandler, payload: dict[str, Any], looks: int) -> None:
        """POST the outcome once the console shows the call ended (module docstring)."""
        if self.stopping.is_set():
            return
        if looks < OUTCOME_LOOKS and not self._in_wrap_up(handler, payload.get("handoff_id")):
            self.scheduler.call_later(
                OUTCOME_LOOK_AGAIN_S, lambda: self._record_outcome(handler, payload, looks + 1)
            )
            return
        self._post(handler, "/outcome", payload, purpose="outcome")
        with self._lock:
            handler.awaiting_outcome = False

    def _in_wrap_up(self, handler: SimHandler, handoff_id: object) -> bool:
        """Whether the handler's console shows this handoff in wrap-up, waiting for its outcome
        (True when there is nothing to wait for or the console cannot be read: the post then
        says what is wrong)."""
        if not isinstance(handoff_id, int):
            return True
        readable, shown = self._console_wrap_up(handler)
        return not readable or shown == handoff_id

    def _back_after_missed(self, handler: SimHandler) -> None:
        with self._lock:
            busy = handler.live_sid is not None or handler.awaiting_outcome
        if busy or self.stopping.is_set():
            return
        self._post(handler, "/state", {"state": "available"}, purpose="back_available")

    def sign_in_all(self) -> threading.Thread | None:
        """Sign every handler with an id in (state available), in a background thread that
        retries until the web process answers; None when there is nobody to sign in."""
        ready = [h for h in self.handlers.values() if h.handler_id is not None]
        if not ready or not self.config.sign_in:
            return None
        thread = threading.Thread(
            target=self._sign_in, args=(ready,), name="carrier-sign-in", daemon=True
        )
        thread.start()
        return thread

    def _sign_in(self, handlers: list[SimHandler]) -> None:
        deadline = time.monotonic() + self.config.sign_in_give_up_s
        pending = list(handlers)
        while pending and not self.stopping.is_set():
            last_round = time.monotonic() >= deadline
            still = []
            for handler in pending:
                status = self._post(
                    handler,
                    "/state",
                    {"state": "available"},
                    purpose="sign_in",
                    retrying=not last_round,
                )
                if (status == 0 or status >= 500) and not last_round:
                    still.append(handler)  # the web process is not up yet
                else:
                    handler.signed_in = 200 <= status < 300
            pending = still
            if pending:
                self.stopping.wait(SIGN_IN_RETRY_S)

    def snapshot(self) -> dict[str, Any]:
        """Handlers on a call and in wrap-up (for ``/_simulator/stats``)."""
        with self._lock:
            handlers = list(self.handlers.values())
            return {
                "handlers": len(handlers),
                "handlers_on_call": sum(1 for h in handlers if h.live_sid is not None),
                "handlers_wrapping_up": sum(1 for h in handlers if h.awaiting_outcome),
            }
