"""What ``make demo`` adds for the contact engine: the carrier simulator and a simulated clock.

Unless ``TWILIO_API_BASE_URL`` is set (then all Twilio traffic goes there and no simulator is
started), the demo gets a throw-away Twilio account (random SID and token shared by the simulator
and our processes), a fictional caller ID from Ofcom's drama range, webhooks on the local web
process, and one simulated clock for every process, running ``speed`` times faster than real time
and jumping over quiet hours. The clock starts at the next opening of the calling window (or
later, when the database already holds later activity from an earlier run).

Simulated handlers: ``ensure_sim_handlers`` creates handler records ``Handler K`` with endpoints
``client:sim_handler_K``, each with a handler-role user ``sim_handler_K`` (idempotently;
``seed-demo --handlers N`` and the demo call it), and ``handler_arguments`` adds ``--handlers N
--handler sim_handler_K=<id> ...`` to the simulator's command, with the ids read from the
database, and sets those users' passwords from the run's Twilio auth token, so the simulated
handlers answer the ACD's calls, sign in and use the console API as those handlers.
"""

from __future__ import annotations

import secrets
import sys
from collections.abc import Callable, MutableMapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import redis
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from rmc_outreach.calendar import CallingWindow
from rmc_outreach.clock import SimulatedClock
from rmc_outreach.config import Settings
from rmc_outreach.db import make_engine
from rmc_outreach.demo_accounts import DemoAccountsRefused, ensure_handler_user
from rmc_outreach.embedded_redis import free_port
from rmc_outreach.handlers import create_handler
from rmc_outreach.models import ContactAttempt, Handler, Referral
from rmc_outreach.simulation.carrier.staff import sim_handler_password, sim_identity

DEMO_CALLER_ID = "+441632960000"
DEFAULT_SIM_HANDLERS = 6


@dataclass(frozen=True)
class CarrierPlan:
    """How this demo run reaches a carrier: our simulator (with its command) or an endpoint."""

    simulator_command: list[str] | None
    simulated_clock: bool


def plan_carrier(
    env: MutableMapping[str, str], settings: Settings, *, port: int, seed: int
) -> CarrierPlan:
    """Fill ``env`` (the children's environment) with the Twilio and clock settings."""
    env.setdefault("PUBLIC_BASE_URL", f"http://127.0.0.1:{port}")
    if env.get("TWILIO_API_BASE_URL", "").strip():
        return CarrierPlan(None, env.get("RMC_CLOCK", "") == "simulated")
    simulator_port = free_port()
    env["TWILIO_API_BASE_URL"] = f"http://127.0.0.1:{simulator_port}"
    env["TWILIO_ACCOUNT_SID"] = "AC" + secrets.token_hex(16)
    env["TWILIO_AUTH_TOKEN"] = secrets.token_hex(16)
    env.setdefault("TWILIO_CALLER_ID", DEMO_CALLER_ID)
    env["RMC_CLOCK"] = "simulated"
    command = [
        sys.executable, "-m", "rmc_outreach.simulation.carrier",
        "--host", "127.0.0.1", "--port", str(simulator_port), "--seed", str(seed),
        "--ledger", str(settings.var_dir / "simulator-ledger.jsonl"),
    ]  # fmt: skip
    return CarrierPlan(command, simulated_clock=True)


def start_simulated_clock(settings: Settings, redis_url: str, *, speed: float) -> datetime:
    """Start the shared clock at the next calling-window opening after now and after any
    activity already stored; return the simulated start time."""
    window = CallingWindow(timezone=settings.timezone)
    engine = make_engine(settings.database_url)
    try:
        with engine.connect() as connection:
            latest = connection.execute(
                select(func.max(ContactAttempt.created_at)).union_all(
                    select(func.max(Referral.updated_at))
                )
            ).scalars()
            stored = [moment for moment in latest if moment is not None]
    finally:
        engine.dispose()
    real_now = datetime.now(UTC)
    after = max([real_now, *(_aware(moment) + timedelta(minutes=1) for moment in stored)])
    start = window.next_open(after)
    client = redis.Redis.from_url(redis_url)
    try:
        SimulatedClock(client).start(start, rate=speed)
    finally:
        client.close()
    return start


def _aware(moment: datetime) -> datetime:
    # Raw SQL results from SQLite come back naive; every stored time is UTC.
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def ensure_sim_handlers(
    session: Session,
    count: int,
    *,
    password_for: Callable[[str], str] | None = None,
    production: bool = False,
) -> int:
    """Create handlers ``Handler 1..count`` (endpoints ``client:sim_handler_K``) that do not exist
    yet, each linked to a handler-role user named after its identity (``sim_handler_K``); return
    how many handlers were created. ``password_for(identity)`` sets the users' passwords (else a
    new user gets a random one nobody knows). Refused in production. Flushed, not committed."""
    if production:
        raise DemoAccountsRefused("simulated handlers are never created in production")
    existing = {
        handler.endpoint: handler
        for handler in session.scalars(
            select(Handler).where(Handler.endpoint.like("client:sim\\_handler\\_%", escape="\\"))
        )
    }
    created = 0
    for number in range(1, count + 1):
        identity = sim_identity(number)
        endpoint = f"client:{identity}"
        handler = existing.get(endpoint)
        if handler is None:
            handler = create_handler(session, None, f"Handler {number}", endpoint)
            created += 1
        password = password_for(identity) if password_for is not None else None
        ensure_handler_user(session, handler, identity, password, production=production)
    return created


def sim_handler_ids(session: Session) -> dict[str, int]:
    """Identity → handler id of every handler whose endpoint is a simulated handler's."""
    rows = session.execute(
        select(Handler.endpoint, Handler.id).where(
            Handler.endpoint.like("client:sim\\_handler\\_%", escape="\\")
        )
    ).all()
    return {endpoint.removeprefix("client:"): handler_id for endpoint, handler_id in rows}


def handler_arguments(settings: Settings, count: int) -> list[str]:
    """The simulator's ``--handlers``/``--handler`` arguments, creating the handlers and their
    users if needed. Each user's password is derived from ``settings.twilio_auth_token`` (the
    run's throw-away token, which the simulator holds too), so the simulated handlers can sign
    in to the console. Refused in production."""
    token = settings.twilio_auth_token
    password_for = (lambda identity: sim_handler_password(token, identity)) if token else None
    engine = make_engine(settings.database_url)
    try:
        with Session(engine) as session, session.begin():
            ensure_sim_handlers(
                session, count, password_for=password_for, production=settings.production
            )
            ids = sim_handler_ids(session)
    finally:
        engine.dispose()
    arguments = ["--handlers", str(count)]
    wanted = {sim_identity(number) for number in range(1, count + 1)}
    for identity, handler_id in sorted(ids.items(), key=lambda item: item[1]):
        if identity in wanted:
            arguments += ["--handler", f"{identity}={handler_id}"]
    return arguments
