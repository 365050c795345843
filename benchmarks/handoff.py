"""Handoff benchmark: synthetic referrals worked by the real processes with simulated call
handlers taking the patients who ask for the booking team.

    python -m benchmarks.handoff [--referrals 1000] [--handlers 8] [--seed 1] [--speed 20]
                                 [--max-calls-in-flight 30] [--timeout 3600]
                                 [--database-url URL] [--work-dir DIR] [--keep-database]

As ``benchmarks.pipeline`` (and ``make demo``) does: a temporary database (PostgreSQL unless a
``sqlite:///`` URL is given) seeded with ``--referrals`` synthetic referrals and ``--handlers``
handler records (``client:sim_handler_K``), a private Redis, the carrier simulator with that many
simulated handlers (they sign in, answer the engine's handler calls, talk, wrap up and record an
outcome on the handler console), the web process, a Celery worker and beat, on one simulated
clock from the opening of the next Monday's calling window. Pacing decides how many calls start.
The run lasts until every journey has ended (or ``--timeout`` real seconds).

Outreach is paused until every simulated handler has signed in (as a supervisor opens the floor
when the staff are in). The clock runs at real speed while the database is seeded, the processes
start and the handlers sign in, then, once the worker answers, ``--speed`` times faster than real
time; and so does everything the engine takes real time to do: a quarter of a real second between a
patient pressing 1 and the handler's phone ringing is five simulated seconds of waiting at the
default speed 20. Waits measured here are therefore longer than the same engine would give at real
speed (``--speed 1``).

Figures (the last line of output is one JSON object), defined in
``benchmarks.handoff_parts.figures``: ``abandoned_rate`` (of live-answered calls; target <= 0.03),
``wait_median_s`` (target <= 20) and ``wait_p90_s`` (patients' wait for a handler, in simulated
seconds), ``occupancy`` (handlers' busy share while signed in during calling hours; target >=
0.70), ``reach_rate``; and, to explain them, ``idle_handler_s_by_calls_due`` (handlers' available
time, simulated seconds, by how many calls were due and not started then) and
``idle_handler_s_by_pacing`` (the part of it while calls were due, by what pacing answered then:
``allowed``, or why it held calls back) and ``idle_handler_s_by_day`` (the same for each
simulated day), the counts behind each, the pipeline's own checks
(``duplicate_calls``, ``contacts_outside_hours``, ``unfinished_referrals``), ``wall_s``,
``simulated_days`` and ``cpu_s`` by process.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import signal
import sys
import time
from dataclasses import asdict
from typing import Any

from sqlalchemy import func, select

from benchmarks.handoff_parts.figures import handoff_figures
from benchmarks.intake import DEFAULT_DATABASE_URL
from benchmarks.pipeline import full_speed, seed_referrals, start_clock
from benchmarks.pipeline_parts.checks import check_outcome, load_ledger
from benchmarks.pipeline_parts.monitor import monitor
from benchmarks.pipeline_parts.processes import PipelineProcesses
from benchmarks.pipeline_parts.service import bench_service
from rmc_outreach import clock, db, pacing
from rmc_outreach.calendar import CallingWindow
from rmc_outreach.demo_carrier import handler_arguments
from rmc_outreach.engine_config import engine_config
from rmc_outreach.models import Handler, HandlerState
from workers.celery_app import create_celery_app

TARGETS = {"abandoned_rate": 0.03, "wait_median_s": 20.0, "occupancy": 0.70}
ACTOR = "benchmark"
OPENING_REASON = "benchmark: the simulated staff are signing in"
SIGN_IN_TIMEOUT_S = 180.0


def open_the_floor(processes: PipelineProcesses, handlers: int) -> None:
    """Resume outreach (paused before the processes started) once every simulated handler has
    signed in, as a supervisor opens the floor when the staff are in: calls dialled before
    then would offer patients a call back (nobody signed in) or find too few handlers."""
    deadline = time.monotonic() + SIGN_IN_TIMEOUT_S
    while True:
        with db.session_scope(read_only=True) as session:
            signed_in = session.scalar(
                select(func.count())
                .select_from(Handler)
                .where(Handler.state != HandlerState.OFFLINE)
            )
        if (signed_in or 0) >= handlers:
            break
        processes.check_alive()
        if time.monotonic() > deadline:
            raise RuntimeError(f"only {signed_in} of {handlers} handlers signed in")
        time.sleep(0.25)
    with db.session_scope() as session:
        pacing.resume(session, "all", actor_label=ACTOR)


def run(options: argparse.Namespace) -> dict[str, Any]:
    """Run the whole benchmark; returns its figures."""
    with bench_service(
        options.work_dir,
        options.database_url,
        max_calls=options.max_calls_in_flight,
        seed=options.seed,
        concurrency=2,
        keep_database=options.keep_database,
    ) as service:
        processes, settings = service.processes, service.settings
        if service.plan.simulator_command is None:
            raise SystemExit("benchmarks.handoff needs the simulator (no TWILIO_API_BASE_URL)")
        plan = dataclasses.replace(
            service.plan,
            simulator_command=service.plan.simulator_command
            + handler_arguments(settings, options.handlers),
        )
        window = CallingWindow(timezone=settings.timezone)
        start = start_clock(window, service.redis_url)
        clock.use_simulated_clock(service.redis_url)
        referrals = seed_referrals(settings, options.referrals, options.seed)
        print(
            f"{referrals} referrals, {options.handlers} handlers; clock starts "
            f"{start:%a %d %b %Y %H:%M}",
            file=sys.stderr,
        )
        with db.session_scope() as session:
            pacing.pause(session, "all", reason=OPENING_REASON, actor_label=ACTOR)
        processes.start_carrier(plan)
        processes.start_service()
        open_the_floor(processes, options.handlers)
        full_speed(processes, create_celery_app(settings), service.redis_url, options.speed)
        log = monitor(
            processes,
            None,
            kills=0,
            expected_calls=2.0 * referrals,
            timeout_s=options.timeout,
            redis_pid=service.redis_pid,
            window=window,
            pacing_config=engine_config(settings, env=processes.env),
        )
        service.stop()
        ledger = load_ledger(service.ledger_path)
        end = log.simulated_end or start
        with db.session_scope(read_only=True) as session:
            figures = handoff_figures(session, window, start, end, log.saturated_spans)
            outcome = check_outcome(session, ledger, window)
        backend = db.get_engine().dialect.name
    result: dict[str, Any] = asdict(figures)
    result.update(
        seed=options.seed,
        handlers=options.handlers,
        speed=options.speed,
        duplicate_calls=outcome.duplicate_calls,
        contacts_outside_hours=outcome.contacts_outside_hours,
        unfinished_referrals=outcome.unfinished_referrals,
        timed_out=log.timed_out,
        wall_s=round(log.wall_s, 1),
        simulated_days=round((end - start).total_seconds() / 86400, 2),
        backend=backend,
        cpu_s=log.cpu_s,
        idle_handler_s_by_calls_due=log.idle_handler_s,
        idle_handler_s_by_pacing=log.idle_handler_s_by_pacing,
        idle_handler_s_by_day=log.idle_handler_s_by_day,
        targets_met={
            "abandoned_rate": figures.abandoned_rate <= TARGETS["abandoned_rate"],
            "wait_median_s": figures.wait_median_s is not None
            and figures.wait_median_s <= TARGETS["wait_median_s"],
            "occupancy": figures.occupancy is not None
            and figures.occupancy >= TARGETS["occupancy"],
        },
    )
    return result


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--referrals", type=int, default=1000)
    parser.add_argument("--handlers", type=int, default=8)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--speed", type=float, default=20.0, help="simulated s per real s")
    parser.add_argument(
        "--max-calls-in-flight", type=int, default=30, help="RMC_MAX_CALLS_IN_FLIGHT"
    )
    parser.add_argument("--timeout", type=float, default=3600.0, help="real seconds")
    parser.add_argument("--database-url", default=DEFAULT_DATABASE_URL)
    parser.add_argument("--work-dir", default=None, help="keep logs and the ledger here")
    parser.add_argument(
        "--keep-database",
        action="store_true",
        help="do not drop the run's PostgreSQL database (its name is printed)",
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print its figures; the last line is JSON. Exit 1 when a target or
    a safety check fails, or the run did not finish."""
    options = _parser().parse_args(argv)
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))
    result = run(options)
    print(json.dumps(result))
    safe = not (
        result["duplicate_calls"] or result["contacts_outside_hours"] or result["timed_out"]
    )
    return 0 if safe and all(result["targets_met"].values()) else 1


if __name__ == "__main__":
    sys.exit(main())
