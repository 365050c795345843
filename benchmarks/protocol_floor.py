"""Protocol floor: the CPU a call costs on this machine before our code does anything, set against
the CPU per call that ``benchmarks.pipeline``'s ``ratio`` target allows.

    python -m benchmarks.protocol_floor [--requests 3000] [--noop-tasks 3000] [--rounds 3]
                                        [--exchanges-per-call 5.6] [--tasks-per-call 3.1]
                                        [--target-ratio 0.10]

Two measurements, each the whole machine's CPU (``/proc/stat``) over the measured stretch divided
by the work done, so client, server and broker all count, as they do in the pipeline:

- ``exchange_cpu_ms``: one bare webhook exchange: a ``requests`` session (as the carrier
  simulator sends callbacks) posting a Twilio-shaped status callback to gunicorn run as the demo
  runs the web (2 workers, 4 threads, access log on), whose Flask view verifies the
  ``X-Twilio-Signature`` (every webhook must) and answers 204. No database, no task.
- ``noop_cpu_ms``: one bare Celery no-op (``benchmarks.pipeline_parts.noop``: the run's app
  configuration, a worker of concurrency 2 on a private Redis, publisher included), and the
  no-op rate ``celery_noop_tasks_per_s`` that the pipeline's ``ratio`` divides by.

``floor_ms_per_call`` = exchanges per call x ``exchange_cpu_ms`` + tasks per call x
``noop_cpu_ms``. The defaults are a 500-referral pipeline run's counts (stop 14): 4.22 webhooks
and 1.41 REST requests (a call, and an SMS for 41% of calls) per call; and the tasks a call needs
with a task for each step, as the engine is built: placing it, applying its final status,
applying the deciding callback of the 67% answered (voicemail or keypad choice) and sending the
41% SMS. Applying many callbacks in one task could bring that towards 1.5 (about 8 ms less);
the webhooks are Twilio's protocol and stay. ``budget_ms_per_call``
= ``busy_cores`` x 1000 / (``target_ratio`` x no-op rate): the CPU a call may use in all for the
pipeline to reach the target, if it keeps the machine as busy as the no-op run does
(``busy_cores``). ``headroom_ms_per_call`` is what the budget leaves above the floor for every SQL
statement, TwiML document, template and SDK call a call needs.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import requests
from twilio.request_validator import RequestValidator

from benchmarks.intake import DEFAULT_DATABASE_URL
from benchmarks.pipeline_parts.noop import measure_noop_throughput
from benchmarks.pipeline_parts.service import bench_service
from rmc_outreach.embedded_redis import free_port
from workers.celery_app import create_celery_app
from workers.queues import Queues

AUTH_TOKEN = "floor-benchmark-auth-token"  # noqa: S105 - signs local test requests only
WARM_UP_REQUESTS = 200
# A status callback as the simulator sends one (synthetic values: drama-range numbers).
CALLBACK = {
    "AccountSid": "AC" + "0" * 32,
    "CallSid": "CA" + "1" * 32,
    "CallStatus": "completed",
    "CallDuration": "42",
    "Direction": "outbound-api",
    "From": "+441632960001",
    "To": "+447700900123",
    "SequenceNumber": "3",
    "Timestamp": "Mon, 30 Nov 2026 09:00:00 +0000",
    "CallbackSource": "call-progress-events",
    "ApiVersion": "2010-04-01",
}

APP_SOURCE = f"""
from flask import Flask, abort, request
from twilio.request_validator import RequestValidator

app = Flask(__name__)
validator = RequestValidator({AUTH_TOKEN!r})


@app.post("/twilio/voice/status")
def status():
    signature = request.headers.get("X-Twilio-Signature", "")
    if not validator.validate(request.url, request.form, signature):
        abort(403)
    return "", 204
"""


def machine_cpu_s() -> float:
    """CPU seconds the whole machine has spent busy (every state but idle and I/O wait)."""
    fields = [int(value) for value in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = fields[3] + fields[4]
    return (sum(fields[:8]) - idle) / os.sysconf("SC_CLK_TCK")


@dataclass(frozen=True)
class Measured:
    """``units`` of work done in ``wall_s`` while the machine spent ``cpu_s`` busy."""

    units: int
    wall_s: float
    cpu_s: float

    @property
    def cpu_ms(self) -> float:
        return 1000 * self.cpu_s / self.units

    @property
    def busy_cores(self) -> float:
        return self.cpu_s / self.wall_s if self.wall_s > 0 else 0.0

    @property
    def per_s(self) -> float:
        return self.units / self.wall_s if self.wall_s > 0 else 0.0


def measured(units: int, work: Callable[[], object]) -> Measured:
    """Run ``work`` (which does ``units`` of work) and read the wall clock and machine CPU."""
    cpu, wall = machine_cpu_s(), time.perf_counter()
    work()
    return Measured(units, time.perf_counter() - wall, machine_cpu_s() - cpu)


def median_of(rounds: list[Measured]) -> Measured:
    return sorted(rounds, key=lambda item: item.cpu_ms)[len(rounds) // 2]


def measure_exchanges(requests_per_round: int, rounds: int) -> Measured:
    """Bare signed webhook exchanges against gunicorn as the demo runs the web."""
    port = free_port()
    with tempfile.TemporaryDirectory(prefix="rmc-floor-") as folder:
        Path(folder, "floor_app.py").write_text(APP_SOURCE, encoding="utf-8")
        access_log = str(Path(folder, "access.log"))
        server = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "floor_app:app", "--bind", f"127.0.0.1:{port}",
             "--workers", "2", "--threads", "4", "--access-logfile", access_log,
             "--no-control-socket"],
            cwd=folder, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        try:
            url = f"http://127.0.0.1:{port}/twilio/voice/status"
            signature = RequestValidator(AUTH_TOKEN).compute_signature(url, CALLBACK)
            session = requests.Session()
            headers = {"X-Twilio-Signature": signature}

            def send(count: int) -> None:
                for _ in range(count):
                    response = session.post(url, data=CALLBACK, headers=headers, timeout=10)
                    if response.status_code != 204:
                        raise RuntimeError(f"floor webhook answered {response.status_code}")

            _wait_listening(url, session)
            send(WARM_UP_REQUESTS)
            return median_of(
                [
                    measured(requests_per_round, lambda: send(requests_per_round))
                    for _ in range(rounds)
                ]
            )
        finally:
            server.terminate()
            server.wait(timeout=30)


def _wait_listening(url: str, session: requests.Session) -> None:
    deadline = time.monotonic() + 30
    while True:
        try:
            session.get(url, timeout=1)
            return
        except requests.ConnectionError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


def measure_noops(tasks: int, rounds: int) -> Measured:
    """Bare Celery no-ops, as ``benchmarks.pipeline`` measures its yardstick."""
    with bench_service(None, DEFAULT_DATABASE_URL, max_calls=50, seed=1, concurrency=2) as service:
        app = create_celery_app(service.settings)
        service.processes.start_worker(queues=[Queues.NOOP])
        try:
            measure_noop_throughput(app, service.redis_url, 200)
            results = []
            for _ in range(rounds):
                cpu = machine_cpu_s()
                noop = measure_noop_throughput(app, service.redis_url, tasks)
                results.append(Measured(tasks, noop.seconds, machine_cpu_s() - cpu))
            return median_of(results)
        finally:
            service.processes.stop_worker()
            service.stop()


@dataclass
class Floor:
    """The JSON the benchmark prints (see the module docstring)."""

    exchange_cpu_ms: float
    noop_cpu_ms: float
    celery_noop_tasks_per_s: float
    busy_cores: float
    exchanges_per_call: float
    tasks_per_call: float
    floor_ms_per_call: float
    target_ratio: float
    budget_ms_per_call: float
    headroom_ms_per_call: float


def floor_of(
    exchange: Measured, noop: Measured, exchanges: float, tasks: float, target_ratio: float
) -> Floor:
    """Put the two measurements and the per-call counts together."""
    floor = exchanges * exchange.cpu_ms + tasks * noop.cpu_ms
    budget = noop.busy_cores * 1000 / (target_ratio * noop.per_s) if noop.per_s else 0.0
    return Floor(
        exchange_cpu_ms=round(exchange.cpu_ms, 2),
        noop_cpu_ms=round(noop.cpu_ms, 2),
        celery_noop_tasks_per_s=round(noop.per_s, 1),
        busy_cores=round(noop.busy_cores, 2),
        exchanges_per_call=exchanges,
        tasks_per_call=tasks,
        floor_ms_per_call=round(floor, 1),
        target_ratio=target_ratio,
        budget_ms_per_call=round(budget, 1),
        headroom_ms_per_call=round(budget - floor, 1),
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--requests", type=int, default=3000, help="webhook exchanges per round")
    parser.add_argument("--noop-tasks", type=int, default=3000, help="no-op tasks per round")
    parser.add_argument("--rounds", type=int, default=3, help="rounds of each (median kept)")
    parser.add_argument("--exchanges-per-call", type=float, default=5.6)
    parser.add_argument("--tasks-per-call", type=float, default=3.1)
    parser.add_argument("--target-ratio", type=float, default=0.10)
    options = parser.parse_args(argv)
    exchange = measure_exchanges(options.requests, options.rounds)
    print(f"webhook exchange: {exchange.cpu_ms:.2f} ms CPU", file=sys.stderr)
    noop = measure_noops(options.noop_tasks, options.rounds)
    print(f"celery no-op: {noop.per_s:.0f}/s, {noop.cpu_ms:.2f} ms CPU", file=sys.stderr)
    floor = floor_of(
        exchange, noop, options.exchanges_per_call, options.tasks_per_call, options.target_ratio
    )
    print(json.dumps(asdict(floor)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
