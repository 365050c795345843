"""Start the carrier simulator: in this process for tests, or as a command for the demo.

``start_simulator(settings, seed=..., time_scale=...)`` serves on a free loopback port in a
background thread and returns a ``RunningSimulator``; ``serve(...)`` blocks (the command line).
Both refuse production settings: the simulator must never stand in for Twilio there.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server

from rmc_outreach.config import Settings
from rmc_outreach.simulation.carrier.app import CarrierApp, simulator_stats
from rmc_outreach.simulation.carrier.ledger import Ledger
from rmc_outreach.simulation.carrier.messaging import send_inbound_sms
from rmc_outreach.simulation.carrier.population import Population, PopulationConfig
from rmc_outreach.simulation.carrier.spec import EngineName, spec_engine
from rmc_outreach.simulation.carrier.staff import StaffConfig
from rmc_outreach.simulation.carrier.state import Carrier, CarrierSettings
from rmc_outreach.simulation.carrier.timing import SimTime

log = logging.getLogger(__name__)

LOOPBACK = frozenset({"127.0.0.1", "localhost", "::1"})


class _QuietRequestHandler(WSGIRequestHandler):
    """Logs requests at DEBUG without the query string (a list filter carries a phone number)."""

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        """One line per request: method, path, status."""
        log.debug("%s %s %s", self.command, self.path.split("?", 1)[0], code)


class SimulatorRefusedError(RuntimeError):
    """The settings do not allow a simulator (production, or no Twilio credentials)."""


def carrier_settings(settings: Settings, validation: EngineName) -> CarrierSettings:
    """The simulator's settings from the project's, refusing production."""
    if settings.production:
        raise SimulatorRefusedError("the carrier simulator never runs in production mode")
    if not (settings.twilio_account_sid and settings.twilio_auth_token):
        raise SimulatorRefusedError(
            "set TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN: the simulator accepts only them"
        )
    return CarrierSettings(
        account_sid=settings.twilio_account_sid,
        auth_token=settings.twilio_auth_token,
        public_base_url=settings.public_base_url,
        sms_from=settings.twilio_sms_from,
        timezone=settings.timezone,
        validation=validation,
    )


@dataclass
class RunningSimulator:
    """A simulator serving in a background thread of this process."""

    carrier: Carrier
    server: BaseWSGIServer
    thread: threading.Thread

    @property
    def base_url(self) -> str:
        """Where it listens, e.g. ``http://127.0.0.1:54321`` (use as TWILIO_API_BASE_URL)."""
        return f"http://127.0.0.1:{self.server.server_port}"

    def ledger(self, kind: str | None = None) -> list[dict[str, Any]]:
        """Ledger entries so far, optionally of one kind."""
        return self.carrier.ledger.entries(kind=kind)

    def stats(self) -> dict[str, Any]:
        """What ``GET /_simulator/stats`` answers."""
        return simulator_stats(self.carrier)

    def inject_faults(
        self, *, rate_limited: int = 0, slow_responses: int = 0, slow_response_s: float = 0.0
    ) -> None:
        """Answer the next ``rate_limited`` requests with 429; delay the next ``slow_responses``
        responses by ``slow_response_s`` real seconds after acting on them."""
        self.carrier.faults.set(
            rate_limited=rate_limited,
            slow_responses=slow_responses,
            slow_response_s=slow_response_s,
        )

    def send_inbound_sms(self, sender: str, to: str, body: str) -> int:
        """A person texts ``to`` (our number); returns the webhook's HTTP status (0 if down)."""
        return send_inbound_sms(self.carrier, sender, to, body).status

    def wait_until_idle(self, timeout_s: float = 10.0) -> bool:
        """Wait until no call is live and no SMS step is pending; False on timeout."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            stats = self.stats()
            if stats["calls_live"] == 0 and stats["scheduled_events"] == 0:
                with self.carrier.lock:
                    unfinished = [c for c in self.carrier.calls.values() if not c.final]
                if not unfinished:
                    return True
            time.sleep(0.02)
        return False

    def stop(self) -> None:
        """End every call, stop serving, release threads and close the ledger file."""
        self.carrier.hang_up_everything()
        self.server.shutdown()
        self.thread.join(timeout=5)
        self.server.server_close()
        self.carrier.shutdown()


def _build(
    settings: Settings,
    *,
    seed: int,
    time_scale: float | None,
    population: PopulationConfig | None,
    ledger_path: Path | None,
    validation: EngineName,
    staff: StaffConfig | None,
) -> CarrierApp:
    checked = carrier_settings(settings, validation)
    spec_engine(validation)  # load the spec before the first request, not during it
    carrier = Carrier(
        checked,
        Population(population, seed=seed),
        SimTime(time_scale),
        Ledger(ledger_path),
        staff=staff,
    )
    return CarrierApp(carrier)


def start_simulator(
    settings: Settings,
    *,
    seed: int = 0,
    time_scale: float | None = None,
    population: PopulationConfig | None = None,
    ledger_path: Path | None = None,
    validation: EngineName = "openapi-core",
    port: int = 0,
    staff: StaffConfig | None = None,
) -> RunningSimulator:
    """Serve a simulator on 127.0.0.1 (a free port unless given) in a background thread.

    With ``staff``, its simulated handlers answer handler endpoints and sign in at start."""
    app = _build(
        settings,
        seed=seed,
        time_scale=time_scale,
        population=population,
        ledger_path=ledger_path,
        validation=validation,
        staff=staff,
    )
    server = make_server(
        "127.0.0.1", port, app, threaded=True, request_handler=_QuietRequestHandler
    )
    thread = threading.Thread(
        target=server.serve_forever,
        kwargs={"poll_interval": 0.05},
        name="carrier-http",
        daemon=True,
    )
    thread.start()
    app.carrier.staff.sign_in_all()
    return RunningSimulator(app.carrier, server, thread)


def serve(
    settings: Settings,
    *,
    host: str,
    port: int,
    seed: int,
    time_scale: float | None = None,
    population: PopulationConfig | None = None,
    ledger_path: Path | None = None,
    validation: EngineName = "compiled",
    allow_remote: bool = False,
    staff: StaffConfig | None = None,
) -> None:
    """Serve until interrupted (the command line). Binds loopback only unless ``allow_remote``."""
    if host not in LOOPBACK and not allow_remote:
        raise SimulatorRefusedError(
            f"refusing to bind {host}: loopback only without --allow-remote"
        )
    app = _build(
        settings,
        seed=seed,
        time_scale=time_scale,
        population=population,
        ledger_path=ledger_path,
        validation=validation,
        staff=staff,
    )
    server = make_server(host, port, app, threaded=True, request_handler=_QuietRequestHandler)
    print(f"carrier simulator listening on http://{host}:{server.server_port}", flush=True)  # noqa: T201
    app.carrier.staff.sign_in_all()
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        log.info("carrier simulator interrupted")
    finally:
        server.server_close()
        app.carrier.shutdown()
