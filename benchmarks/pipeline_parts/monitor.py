"""Watching a pipeline run: what the database says, the busy period, the kills, the CPU used.

The run is steered by a few counts read every quarter second (``take_sample``); ``monitor`` adds
up the busy period (real time during which some call attempt was queued for a worker or under
way) and the saturated period (real time during which calls were due that no worker had started:
the engine had more calls than it could work), kills the worker as planned, and stops once
every journey has ended or time is up.
"""

from __future__ import annotations

import resource
import sys
import time
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import and_, func, or_, select

from benchmarks.pipeline_parts.processes import Kill, PipelineProcesses, cpu_seconds
from rmc_outreach import clock, db, pacing
from rmc_outreach.calendar import CallingWindow
from rmc_outreach.dispatch import DISPATCH_INTERVAL
from rmc_outreach.engine_config import EngineConfig, in_clock_time
from rmc_outreach.models import (
    OPEN_REFERRAL_STATUSES,
    AttemptState,
    Channel,
    ContactAttempt,
    Handler,
    HandlerState,
    ProviderEvent,
    Referral,
    ReferralStatus,
)

SAMPLE_S = 0.25
PROGRESS_EVERY_S = 15.0


@dataclass
class Sample:
    """One look at the database during the run."""

    open_referrals: int
    open_attempts: int
    calls_busy: int
    calls_placed: int
    events_unapplied: int
    calls_waiting: int = 0
    at: datetime | None = None  # simulated time of the sample
    handlers_available: int = 0
    # Pacing's answer at the sample, when handlers were idle with calls due (``PACING_ALLOWED``:
    # calls were allowed, the engine had not started them yet); else None.
    pacing: str | None = None

    @property
    def finished(self) -> bool:
        """Every journey ended and every callback applied."""
        return not (self.open_referrals or self.open_attempts or self.events_unapplied)


PACING_ALLOWED = "allowed"


def take_sample(
    window: CallingWindow | None = None, pacing_config: EngineConfig | None = None
) -> Sample:
    """Counts the run is steered by, in one read-only transaction.

    ``calls_waiting``: calls due that no worker has started yet, inside the calling window (call
    attempts queued for a worker, and referrals whose next step is a call, due now, not yet
    claimed because the engine's cap on calls in flight was reached). With ``pacing_config``,
    while handlers are available and calls are due, what pacing says of starting calls now.
    """
    moment = clock.now()
    busy_call = and_(
        ContactAttempt.channel == Channel.CALL,
        or_(
            ContactAttempt.state.in_(
                (AttemptState.CLAIMED, AttemptState.SENT, AttemptState.UNCERTAIN)
            ),
            and_(ContactAttempt.state == AttemptState.PENDING, Referral.next_action_at.is_(None)),
        ),
    )
    counted = func.count()
    with db.session_scope(read_only=True) as session:
        open_referrals = session.scalar(
            select(counted).where(Referral.status.in_(OPEN_REFERRAL_STATUSES))
        )
        open_attempts = session.scalar(
            select(counted).where(ContactAttempt.state != AttemptState.FINAL)
        )
        calls_busy = session.scalar(
            select(counted)
            .select_from(ContactAttempt)
            .join(Referral, Referral.id == ContactAttempt.referral_id)
            .where(busy_call)
        )
        calls_placed = session.scalar(
            select(counted).where(
                ContactAttempt.channel == Channel.CALL, ContactAttempt.claimed_at.is_not(None)
            )
        )
        unapplied = session.scalar(select(counted).where(ProviderEvent.processed_at.is_(None)))
        waiting = 0
        if window is not None and window.is_open(moment):
            queued = session.scalar(
                select(counted)
                .select_from(ContactAttempt)
                .join(Referral, Referral.id == ContactAttempt.referral_id)
                .where(
                    ContactAttempt.channel == Channel.CALL,
                    ContactAttempt.state == AttemptState.PENDING,
                    Referral.next_action_at.is_(None),
                )
            )
            due = session.scalar(
                select(counted).where(
                    Referral.status == ReferralStatus.IN_OUTREACH,
                    Referral.next_channel == Channel.CALL,
                    Referral.next_action_at <= moment,
                )
            )
            waiting = int(queued or 0) + int(due or 0)
        available = session.scalar(
            select(counted).select_from(Handler).where(Handler.state == HandlerState.AVAILABLE)
        )
        held: str | None = None
        if pacing_config is not None and available and waiting:
            # The same window for the calls-per-second limit as dispatch uses.
            recent = in_clock_time(DISPATCH_INTERVAL)
            decision = pacing.decide(
                pacing.gather_inputs(session, pacing_config, moment, recent=recent)
            )
            held = PACING_ALLOWED if decision.reason is None else decision.reason.value
    return Sample(
        int(open_referrals or 0),
        int(open_attempts or 0),
        int(calls_busy or 0),
        int(calls_placed or 0),
        int(unapplied or 0),
        waiting,
        moment,
        int(available or 0),
        held,
    )


@dataclass
class RunLog:
    """What the monitor saw: real and simulated times, the busy period, the kills."""

    wall_s: float = 0.0
    busy_s: float = 0.0
    saturated_s: float = 0.0
    saturated_calls: int = 0
    # Simulated-time spans during which calls were due that no worker had started.
    saturated_spans: list[tuple[datetime, datetime]] = field(default_factory=list)
    timed_out: bool = False
    kills: list[Kill] = field(default_factory=list)
    simulated_start: datetime | None = None
    simulated_end: datetime | None = None
    last: Sample | None = None
    cpu_s: dict[str, float] = field(default_factory=dict)
    # Handlers' available (idle) time in simulated seconds, by how many calls were due then,
    # and (while calls were due) by what pacing said then.
    idle_handler_s: dict[str, float] = field(default_factory=dict)
    idle_handler_s_by_pacing: dict[str, float] = field(default_factory=dict)
    # The same split for each day (the simulated date, ISO), to show which day lost the time.
    idle_handler_s_by_day: dict[str, dict[str, float]] = field(default_factory=dict)


# Buckets of ``idle_handler_s``: calls due and not started (lower bound of each bucket).
CALLS_DUE_BUCKETS = (0, 1, 5, 20)


def _bucket(calls_due: int) -> str:
    lower = max(bound for bound in CALLS_DUE_BUCKETS if bound <= calls_due)
    upper = [bound for bound in CALLS_DUE_BUCKETS if bound > lower]
    return f"{lower}-{upper[0] - 1}" if upper else f"{lower}+"


def _add_idle(log: RunLog, previous: Sample, sample: Sample) -> None:
    if previous.at is None or sample.at is None or not previous.handlers_available:
        return
    seconds = (sample.at - previous.at).total_seconds() * previous.handlers_available
    key = _bucket(previous.calls_waiting)
    log.idle_handler_s[key] = round(log.idle_handler_s.get(key, 0.0) + seconds, 1)
    if previous.pacing is not None:
        by_pacing = log.idle_handler_s_by_pacing
        by_pacing[previous.pacing] = round(by_pacing.get(previous.pacing, 0.0) + seconds, 1)
        day = log.idle_handler_s_by_day.setdefault(previous.at.date().isoformat(), {})
        day[previous.pacing] = round(day.get(previous.pacing, 0.0) + seconds, 1)


def _extend_span(
    spans: list[tuple[datetime, datetime]], start: datetime | None, end: datetime | None
) -> None:
    """Add [start, end] to the spans, joining it to the last span when they touch."""
    if start is None or end is None or end <= start:
        return
    if spans and spans[-1][1] >= start:
        spans[-1] = (spans[-1][0], max(spans[-1][1], end))
    else:
        spans.append((start, end))


def cpu_snapshot(processes: PipelineProcesses, redis_pid: int | None) -> dict[str, float]:
    """CPU seconds used so far by each process of the run, PostgreSQL's server and this one."""
    used = processes.cpu_by_process()
    if redis_pid is not None:
        used["redis"] = cpu_seconds(group=redis_pid)
    used["postgres"] = cpu_seconds(command="postgres")
    own = resource.getrusage(resource.RUSAGE_SELF)
    used["benchmark"] = own.ru_utime + own.ru_stime
    return used


def _is_main_process_kill(index: int, total: int) -> bool:
    """Every third kill from the second kills the main process (the only kill, when just one)."""
    return total == 1 or index % 3 == 2


def _kill(processes: PipelineProcesses, app: Any, index: int, total: int, at_s: float) -> Kill:
    if _is_main_process_kill(index, total):
        kill = processes.kill_worker_main_process(app, at_s)
    else:
        kill = processes.kill_busy_pool_child(app, at_s)
    print(f"[{at_s:7.1f}s] kill {index}/{total}: {kill.target} {kill.task or ''}", file=sys.stderr)
    return kill


def _carrier_idle(processes: PipelineProcesses) -> bool:
    try:
        return int(processes.carrier_stats()["calls_live"]) == 0
    except OSError:
        return False


def monitor(
    processes: PipelineProcesses,
    app: Any,
    *,
    kills: int,
    expected_calls: float,
    timeout_s: float,
    redis_pid: int | None,
    window: CallingWindow | None = None,
    pacing_config: EngineConfig | None = None,
) -> RunLog:
    """Watch the run until every journey ended (or the timeout), killing the worker on the way.
    With ``pacing_config`` (the engine's), idle handler time is also split by pacing's answer."""
    log = RunLog(simulated_start=clock.now())
    cpu_before = cpu_snapshot(processes, redis_pid)
    started = last = time.perf_counter()
    last_progress = started
    busy = saturated = False
    while True:
        sample = take_sample(window, pacing_config)
        moment = time.perf_counter()
        if busy:
            log.busy_s += moment - last
        if saturated and log.last is not None:
            log.saturated_s += moment - last
            log.saturated_calls += sample.calls_placed - log.last.calls_placed
            _extend_span(log.saturated_spans, log.last.at, sample.at)
        if log.last is not None:
            _add_idle(log, log.last, sample)
        saturated = sample.calls_waiting > 0
        busy, last, log.last = sample.calls_busy > 0, moment, sample
        elapsed = moment - started
        done = len(log.kills)
        if done < kills and sample.calls_placed >= (done + 1) * expected_calls / (kills + 1):
            log.kills.append(_kill(processes, app, done + 1, kills, elapsed))
            continue
        if sample.finished and done >= kills and _carrier_idle(processes):
            break
        if sample.finished and done < kills:
            # Fewer calls than expected: the remaining kills come now, while beat still works.
            log.kills.append(_kill(processes, app, done + 1, kills, elapsed))
            continue
        if elapsed > timeout_s:
            log.timed_out = True
            break
        processes.check_alive()
        if moment - last_progress >= PROGRESS_EVERY_S:
            last_progress = moment
            print(
                f"[{elapsed:7.1f}s] {clock.now():%a %d %b %H:%M} open {sample.open_referrals}, "
                f"calls placed {sample.calls_placed}, busy calls {sample.calls_busy}, "
                f"open attempts {sample.open_attempts}, busy {log.busy_s:.0f}s, "
                f"saturated {log.saturated_s:.0f}s",
                file=sys.stderr,
            )
        time.sleep(SAMPLE_S)
    log.wall_s = time.perf_counter() - started
    log.simulated_end = clock.now()
    cpu_after = cpu_snapshot(processes, redis_pid)
    log.cpu_s = {
        name: round(used - cpu_before.get(name, 0.0), 1) for name, used in cpu_after.items()
    }
    return log
