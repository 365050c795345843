"""What ``make demo`` adds for the contact engine: the carrier simulator and a simulated clock.

Unless ``TWILIO_API_BASE_URL`` is set (then all Twilio traffic goes there and no simulator is
started), the demo gets a throw-away Twilio account (random SID and token shared by the simulator
and our processes), a fictional caller ID from Ofcom's drama range, webhooks on the local web
process, and one simulated clock for every process, running ``speed`` times faster than real time
and jumping over quiet hours. The clock starts at the next opening of the calling window (or
later, when the database already holds later activity from an earlier run).
"""

from __future__ import annotations

import secrets
import sys
from collections.abc import MutableMapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import redis
from sqlalchemy import func, select

from rmc_outreach.calendar import CallingWindow
from rmc_outreach.clock import SimulatedClock
from rmc_outreach.config import Settings
from rmc_outreach.db import make_engine
from rmc_outreach.embedded_redis import free_port
from rmc_outreach.models import ContactAttempt, Referral

DEMO_CALLER_ID = "+441632960000"


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
