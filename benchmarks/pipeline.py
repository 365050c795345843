"""Pipeline benchmark: synthetic referrals worked end to end by the real processes, with workers
killed on the way, checked against the carrier simulator's ledger and the database.

    python -m benchmarks.pipeline [--referrals 2000] [--kill-workers 5] [--seed 1] [--speed 100]
                                  [--concurrency 2] [--max-calls-in-flight 50] [--timeout 2400]
                                  [--database-url URL] [--noop-tasks 2000] [--work-dir DIR]

With no options (``make bench``) it is the full run: 2,000 referrals, 5 kills, seed 1, about 15
minutes on 2 cores. A fresh database (a temporary PostgreSQL database on the server of
``--database-url``, created, migrated and dropped by the run; or a temporary SQLite file for a
``sqlite:///`` URL) is seeded with ``--referrals`` synthetic referrals (``seed-demo``'s generator).
Then, as ``make demo`` does (its supervisor and carrier plan are reused): a private Redis, the
carrier simulator, the web process (gunicorn), one Celery worker and beat, all separate processes,
on one simulated clock that starts at the opening of the next Monday's calling window (the same
week whatever the real day), runs at real speed until the worker answers, then ``--speed`` times
faster than real time, and jumps over quiet time. ``--max-calls-in-flight`` is the engine's own cap
on calls queued or live (``RMC_MAX_CALLS_IN_FLIGHT``): enough to keep the worker saturated, not so
many that callbacks queue for seconds behind each other. The run lasts until every journey has
ended: no referral waiting or in outreach, no attempt that is not final, no stored callback
unapplied, no call live at the carrier (or ``--timeout`` real seconds: then the unfinished ones are
reported, not waited for). ``--work-dir`` keeps the processes' log and the carrier's ledger.

Meanwhile the worker is killed with SIGKILL ``--kill-workers`` times, spread over the run: the
i-th kill comes once i/(K+1) of the calls the run is expected to place have been placed. Most
kills hit a pool child caught executing a task (calls first); every third kill from the second
(and the only one when K is 1) kills the worker's main process and its pool, and a new worker is
started. Nothing else helps the run recover: acks late, reject on worker lost and the sweeper.

Figures (the last line of output is one JSON object):

- ``duplicate_calls``, ``contacts_outside_hours``, ``sms_after_opt_out``, ``unfinished_referrals``:
  violations, target 0 for any seed; defined in ``benchmarks.pipeline_parts.checks``.
- ``call_attempts_per_s`` = ``complete_calls`` / ``busy_s``. ``complete_calls``: call attempts
  that went all the way: placed through the Twilio SDK (the carrier answered 201), final, with
  their final call-status callback stored (not merely fetched by the sweeper), every callback
  stored for them applied, and none of their callbacks refused or lost. ``busy_s``: real seconds
  of the run during which at least one call attempt was queued for a worker or under way
  (pending and not deferred, claimed, sent or uncertain), sampled every quarter second: time the
  engine had calls to work on, not time spent waiting for the next calling slot or day.
- ``saturated_call_attempts_per_s`` = calls placed / ``saturated_s`` while calls were due that
  no worker had started (more work than the engine could take: its capacity, the same footing
  as the no-op figure, which floods the queue); ``saturated_ratio`` divides it by the no-op
  figure. ``busy_s`` also counts the quiet stretches when a few calls ring out with nothing
  waiting behind them, which measure the simulated telephone, not the engine; both are shown.
- ``celery_noop_tasks_per_s``: bare Celery throughput on the same machine in the same run: the
  same Redis, app configuration and worker concurrency, a task that does nothing
  (``benchmarks.pipeline_parts.noop``); the mean of a measurement before the pipeline starts and
  one after it ends (``noop_before_after``), as other load on the machine may change meanwhile.
- ``ratio`` = ``call_attempts_per_s`` / ``celery_noop_tasks_per_s``: target >= 0.10.
- ``referrals``, ``kills`` (and ``kill_detail``), ``reached`` (or booked), ``exhausted``,
  ``declined``, ``calls`` and ``sms`` (created by the carrier), ``letters`` (printed), ``wall_s``
  (real seconds from the service's start to the end of the last journey), ``seed``; and, to
  explain the rest, ``cpu_s`` by process over the run (``postgres`` counts the whole server).

Exit status 0 when the four checks are 0 and every journey ended in time, else 1.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import redis
from sqlalchemy.engine import make_url

from benchmarks.intake import DEFAULT_DATABASE_URL
from benchmarks.pipeline_parts.checks import Outcome, check_outcome, load_ledger
from benchmarks.pipeline_parts.monitor import RunLog, monitor
from benchmarks.pipeline_parts.noop import NoopThroughput, measure_noop_throughput
from benchmarks.pipeline_parts.processes import PipelineProcesses
from benchmarks.pipeline_parts.service import bench_service
from rmc_outreach import clock, db
from rmc_outreach.calendar import CallingWindow
from rmc_outreach.clock import SimulatedClock
from rmc_outreach.config import Settings
from rmc_outreach.intake import import_worklist
from rmc_outreach.simulation import synthetic_worklist_csv
from workers.celery_app import create_celery_app
from workers.queues import Queues

# Calls a run places per referral, roughly (first calls, retries of the unreached): where the
# kills fall. An estimate only spreads them; a run with fewer calls still gets every kill.
CALLS_PER_REFERRAL = 2.0


def start_clock(window: CallingWindow, redis_url: str, speed: float = 1.0) -> datetime:
    """Start the shared simulated clock at the opening of the next Monday's calling window (or
    the next opening after it: a bank holiday), so every run works the same kind of week
    whatever the real day and hour. It runs at ``speed``; the runs start it at real speed while
    the processes start (``full_speed`` then speeds it up)."""
    today = datetime.now(UTC).date()
    monday = today + timedelta(days=7 - today.weekday())
    start = window.next_open(window.opening(monday))
    client = redis.Redis.from_url(redis_url)
    try:
        SimulatedClock(client).start(start, rate=speed)
    finally:
        client.close()
    return start


def full_speed(processes: PipelineProcesses, app: Any, redis_url: str, speed: float) -> None:
    """Once the worker answers, run the simulated clock ``speed`` times faster than real time
    from where it is now. Until then it ran at real speed: seeding the database and starting
    the processes (seconds of importing on a loaded machine) must not pass as simulated hours
    in which calls go unworked and patients wait for a worker that is not there yet."""
    processes.wait_worker_ready(app)
    client = redis.Redis.from_url(redis_url)
    try:
        simulated = SimulatedClock(client)
        simulated.start(simulated.now(), rate=speed)
    finally:
        client.close()


def seed_referrals(settings: Settings, referrals: int, seed: int) -> int:
    data = synthetic_worklist_csv(referrals, seed=seed, today=clock.now().date())
    report = import_worklist(data, filename="pipeline.csv", settings=settings, actor_label="bench")
    return report.imported


@dataclass
class Figures:
    """The JSON the benchmark prints (see the module docstring)."""

    referrals: int
    seed: int
    kills: int
    duplicate_calls: int
    contacts_outside_hours: int
    sms_after_opt_out: int
    unfinished_referrals: int
    call_attempts_per_s: float
    celery_noop_tasks_per_s: float
    ratio: float
    reached: int
    exhausted: int
    declined: int
    calls: int
    sms: int
    letters: int
    wall_s: float
    busy_s: float
    saturated_s: float
    saturated_call_attempts_per_s: float
    saturated_ratio: float
    noop_before_after: tuple[float, float]
    complete_calls: int
    unfinished_attempts: int
    calls_without_attempt: int
    webhook_failures: int
    late_call_updates: int
    sweeper_fetches: int
    carrier_validation_failures: int
    timed_out: bool
    simulated_days: float
    speed: float
    concurrency: int
    max_calls_in_flight: int
    backend: str
    cpu_s: dict[str, float]
    kill_detail: list[dict[str, Any]]


def figures_of(
    options: argparse.Namespace,
    referrals: int,
    outcome: Outcome,
    log: RunLog,
    noops: tuple[NoopThroughput, NoopThroughput],
) -> Figures:
    """Put the outcome, the run log and the no-op yardstick (before and after) together."""
    per_s = outcome.complete_calls / log.busy_s if log.busy_s > 0 else 0.0
    noop_per_s = sum(noop.per_s for noop in noops) / len(noops)
    saturated_per_s = log.saturated_calls / log.saturated_s if log.saturated_s > 0 else 0.0
    simulated = (
        (log.simulated_end - log.simulated_start).total_seconds() / 86400
        if log.simulated_start and log.simulated_end
        else 0.0
    )
    return Figures(
        referrals=referrals,
        seed=options.seed,
        kills=len(log.kills),
        duplicate_calls=outcome.duplicate_calls,
        contacts_outside_hours=outcome.contacts_outside_hours,
        sms_after_opt_out=outcome.sms_after_opt_out,
        unfinished_referrals=outcome.unfinished_referrals,
        call_attempts_per_s=round(per_s, 2),
        celery_noop_tasks_per_s=round(noop_per_s, 1),
        ratio=round(per_s / noop_per_s, 3) if noop_per_s else 0.0,
        reached=outcome.statuses.get("reached", 0) + outcome.statuses.get("booked", 0),
        exhausted=outcome.statuses.get("exhausted", 0),
        declined=outcome.statuses.get("declined", 0),
        calls=outcome.calls,
        sms=outcome.sms,
        letters=outcome.letters,
        wall_s=round(log.wall_s, 1),
        busy_s=round(log.busy_s, 1),
        saturated_s=round(log.saturated_s, 1),
        saturated_call_attempts_per_s=round(saturated_per_s, 2),
        saturated_ratio=round(saturated_per_s / noop_per_s, 3) if noop_per_s else 0.0,
        noop_before_after=(round(noops[0].per_s, 1), round(noops[1].per_s, 1)),
        complete_calls=outcome.complete_calls,
        unfinished_attempts=outcome.unfinished_attempts,
        calls_without_attempt=outcome.calls_without_attempt,
        webhook_failures=outcome.webhook_failures,
        late_call_updates=outcome.late_call_updates,
        sweeper_fetches=outcome.sweeper_fetches,
        carrier_validation_failures=outcome.carrier_validation_failures,
        timed_out=log.timed_out,
        simulated_days=round(simulated, 2),
        speed=options.speed,
        concurrency=options.concurrency,
        max_calls_in_flight=options.max_calls_in_flight,
        cpu_s=log.cpu_s,
        backend=make_url(options.database_url).get_backend_name(),
        kill_detail=[asdict(kill) for kill in log.kills],
    )


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--referrals", type=int, default=2000)
    parser.add_argument("--kill-workers", type=int, default=5)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--speed", type=float, default=100.0, help="simulated s per real s")
    parser.add_argument("--concurrency", type=int, default=2, help="worker pool processes")
    parser.add_argument(
        "--max-calls-in-flight", type=int, default=50, help="RMC_MAX_CALLS_IN_FLIGHT"
    )
    parser.add_argument("--timeout", type=float, default=2400.0, help="real seconds")
    parser.add_argument("--database-url", default=DEFAULT_DATABASE_URL)
    parser.add_argument("--noop-tasks", type=int, default=2000)
    parser.add_argument("--work-dir", default=None, help="keep logs and the ledger here")
    return parser


def _noop(processes: PipelineProcesses, app: Any, redis_url: str, tasks: int) -> NoopThroughput:
    """Bare Celery throughput with a worker of the pipeline's concurrency on the no-op queue."""
    processes.start_worker(queues=[Queues.NOOP])
    try:
        noop = measure_noop_throughput(app, redis_url, tasks)
    finally:
        processes.stop_worker()
    print(f"celery no-op: {noop.per_s:.0f} tasks/s", file=sys.stderr)
    return noop


def run(options: argparse.Namespace) -> tuple[Figures, Outcome]:
    """Run the whole benchmark; returns its figures and the checks' details."""
    with bench_service(
        options.work_dir,
        options.database_url,
        max_calls=options.max_calls_in_flight,
        seed=options.seed,
        concurrency=options.concurrency,
    ) as service:
        processes, settings = service.processes, service.settings
        app = create_celery_app(settings)
        noop_before = _noop(processes, app, service.redis_url, options.noop_tasks)
        window = CallingWindow(timezone=settings.timezone)
        start = start_clock(window, service.redis_url)
        clock.use_simulated_clock(service.redis_url)
        referrals = seed_referrals(settings, options.referrals, options.seed)
        print(f"{referrals} referrals; clock starts {start:%a %d %b %Y %H:%M}", file=sys.stderr)
        processes.start_carrier(service.plan)
        processes.start_service()
        full_speed(processes, app, service.redis_url, options.speed)
        log = monitor(
            processes,
            app,
            kills=options.kill_workers,
            expected_calls=CALLS_PER_REFERRAL * referrals,
            timeout_s=options.timeout,
            redis_pid=service.redis_pid,
            window=window,
        )
        processes.stop_worker()
        noop_after = _noop(processes, app, service.redis_url, options.noop_tasks)
        service.stop()
        ledger = load_ledger(service.ledger_path)
        with db.session_scope(read_only=True) as session:
            outcome = check_outcome(session, ledger, window)
    return figures_of(options, referrals, outcome, log, (noop_before, noop_after)), outcome


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print its figures; the last line is JSON."""
    options = _parser().parse_args(argv)
    # SIGTERM (timeout, kill) unwinds like Ctrl-C: the finally blocks stop every child process
    # and drop the temporary database instead of leaving them running.
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))
    figures, outcome = run(options)
    for check, examples in outcome.examples.items():
        print(f"{check}: e.g. {', '.join(examples)}", file=sys.stderr)
    print(json.dumps(asdict(figures)))
    failed = (
        figures.duplicate_calls
        or figures.contacts_outside_hours
        or figures.sms_after_opt_out
        or figures.unfinished_referrals
        or figures.timed_out
    )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
