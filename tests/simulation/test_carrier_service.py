"""Running the simulator: the command line, production refusal, and the shared simulated clock."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import redis
import requests

from rmc_outreach import clock
from rmc_outreach.config import PROJECT_ROOT
from rmc_outreach.simulation.carrier import SimulatorRefusedError, start_simulator
from rmc_outreach.simulation.carrier.timing import SimTime
from rmc_outreach.telephony.base import CallRequest, SmsRequest
from rmc_outreach.telephony.twilio_provider import TwilioProvider
from tests.simulation.carrier_support import (
    ACCOUNT_SID,
    AUTH_TOKEN,
    OUR_NUMBER,
    make_settings,
    quiet_population,
)

PATIENT = "+447700900505"


def _environment(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("TWILIO_", "RMC_", "PUBLIC_BASE_URL"))
    }
    env.update(
        RMC_VAR_DIR=str(tmp_path / "var"),
        TWILIO_ACCOUNT_SID=ACCOUNT_SID,
        TWILIO_AUTH_TOKEN=AUTH_TOKEN,
        TWILIO_CALLER_ID=OUR_NUMBER,
        PYTHONPATH=str(PROJECT_ROOT),
    )
    env.update(extra)
    return env


def _command(*arguments: str) -> list[str]:
    return [sys.executable, "-m", "rmc_outreach.simulation.carrier", *arguments]


def test_the_command_announces_its_address_serves_and_stops_on_sigterm(tmp_path: Path) -> None:
    ledger = tmp_path / "ledger.jsonl"
    process = subprocess.Popen(
        _command("--port", "0", "--seed", "4", "--ledger", str(ledger)),
        env=_environment(tmp_path),
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline().strip()
        assert line.startswith("carrier simulator listening on http://127.0.0.1:")
        base_url = line.rsplit(" ", 1)[1]
        assert requests.get(f"{base_url}/_simulator/health", timeout=5).json() == {"status": "ok"}
        calls = requests.get(
            f"{base_url}/2010-04-01/Accounts/{ACCOUNT_SID}/Calls.json",
            params={"To": PATIENT},
            auth=(ACCOUNT_SID, AUTH_TOKEN),
            timeout=5,
        )
        assert (calls.status_code, calls.json()["calls"]) == (200, [])
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=10) == 0
    assert '"operation":"list_calls"' in ledger.read_text()


def test_the_command_refuses_a_public_address_without_allow_remote(tmp_path: Path) -> None:
    result = subprocess.run(
        _command("--host", "0.0.0.0", "--port", "0"),  # noqa: S104 (the refusal is the test)
        env=_environment(tmp_path),
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )

    assert result.returncode == 2
    assert "loopback only" in result.stderr


def test_the_simulator_refuses_production_settings_and_missing_credentials(
    tmp_path: Path,
) -> None:
    settings = make_settings(tmp_path, "http://127.0.0.1:9")

    with pytest.raises(SimulatorRefusedError, match="production"):
        start_simulator(replace(settings, mode="production"))
    with pytest.raises(SimulatorRefusedError, match="TWILIO_AUTH_TOKEN"):
        start_simulator(replace(settings, twilio_auth_token=None))


@pytest.fixture
def shared_clock(redis_client: redis.Redis, redis_url: str) -> Iterator[clock.SimulatedClock]:
    shared = clock.use_simulated_clock(redis_url)
    yield shared
    clock.use_real_clock()


def test_on_the_shared_simulated_clock_calls_run_at_its_rate_and_the_ledger_uses_its_time(
    shared_clock: clock.SimulatedClock, tmp_path: Path
) -> None:
    monday_morning = datetime(2027, 3, 1, 9, 0, tzinfo=UTC)
    shared_clock.start(monday_morning, rate=400.0)
    settings = make_settings(tmp_path, "http://127.0.0.1:9")
    simulator = start_simulator(settings, population=quiet_population(answer_rate_override=0.0))
    try:
        assert SimTime().rate == 400.0
        provider = TwilioProvider(replace(settings, twilio_api_base_url=simulator.base_url))
        hooks = f"http://127.0.0.1:9/twilio/voice/{uuid.uuid4()}"
        provider.place_call(
            CallRequest(PATIENT, OUR_NUMBER, f"{hooks}/answer", f"{hooks}/status", f"{hooks}/amd")
        )
        assert simulator.wait_until_idle(timeout_s=5.0)  # 26 simulated seconds of ringing
        [call] = simulator.ledger("call")
    finally:
        simulator.stop()

    assert call["status"] == "no-answer"
    at = datetime.fromisoformat(call["at"])
    assert monday_morning + timedelta(seconds=25) <= at < monday_morning + timedelta(hours=1)


def test_sms_replies_due_during_a_jump_of_the_shared_clock_arrive_at_once(
    shared_clock: clock.SimulatedClock, tmp_path: Path
) -> None:
    shared_clock.start(datetime(2027, 3, 1, 17, 0, tzinfo=UTC), rate=50.0)
    population = quiet_population(
        sms_reply_weights={"call": 1.0},
        sms_reply_delay_median_s=36000.0,  # hours: only a jump of the clock brings it now
        sms_sent_after_s=(0.5, 0.5),
        sms_delivered_after_s=(0.5, 0.5),
    )
    settings = make_settings(tmp_path, "http://127.0.0.1:9")
    simulator = start_simulator(settings, population=population)
    try:
        provider = TwilioProvider(replace(settings, twilio_api_base_url=simulator.base_url))
        provider.send_sms(
            SmsRequest(PATIENT, OUR_NUMBER, "Please call us.", "http://127.0.0.1:9/status")
        )
        deadline = time.monotonic() + 15
        while not simulator.ledger("message") and time.monotonic() < deadline:
            time.sleep(0.01)
        assert simulator.ledger("sms_reply") == []

        shared_clock.advance_to(datetime(2027, 3, 2, 9, 0, tzinfo=UTC))
        # Its own generous real-time allowance: a loaded machine may be slow to deliver it.
        deadline = time.monotonic() + 20
        while not simulator.ledger("sms_reply") and time.monotonic() < deadline:
            time.sleep(0.01)
    finally:
        simulator.stop()

    [reply] = simulator.ledger("sms_reply")
    assert reply["reply"] == "call"
    assert datetime.fromisoformat(reply["at"]) >= datetime(2027, 3, 2, 9, 0, tzinfo=UTC)
