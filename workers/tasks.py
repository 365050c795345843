"""Celery tasks: thin adapters over ``rmc_outreach``.

Every task has an explicit kebab-case name from ``TaskNames`` and a queue in ``TASK_QUEUES`` (both
in ``workers.queues``), and takes ids only, never patient data. Tasks are declared with
``shared_task`` so they never import the app. Work that follows a task (attempts to work, events to
apply) is enqueued only after the domain function's transaction has committed.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterable
from typing import Any

from celery import shared_task
from redis.exceptions import RedisError

from rmc_outreach import (
    acd,
    call_events,
    dispatch,
    events,
    handlers,
    import_jobs,
    outreach,
    reconcile,
    schedules,
)
from rmc_outreach.clock import now, simulated_clock
from rmc_outreach.db import session_scope
from rmc_outreach.heartbeat import Component, client_for, record_heartbeat
from rmc_outreach.models import Channel
from workers.celery_app import redis_url_of
from workers.queues import TaskNames
from workers.runtime import runtime

log = logging.getLogger(__name__)


@shared_task(name=TaskNames.RECORD_HEARTBEAT, bind=True)  # type: ignore[untyped-decorator]
def record_worker_heartbeat(task: Any) -> None:
    """Record that a worker is alive; beat sends this every few seconds."""
    record_heartbeat(client_for(redis_url_of(task.app)), Component.WORKER)


def enqueue_attempts(queued: Iterable[dispatch.QueuedAttempt]) -> int:
    """Send each attempt to the task that works its channel; returns how many were sent."""
    tasks = {Channel.CALL: place_call, Channel.SMS: send_sms, Channel.LETTER: prepare_letter}
    count = 0
    for item in queued:
        tasks[item.channel].delay(str(item.attempt_id))
        count += 1
    return count


@shared_task(name=TaskNames.DISPATCH_DUE_REFERRALS)  # type: ignore[untyped-decorator]
def dispatch_due_referrals() -> int:
    """Admit, plan and claim due referrals; enqueue their attempts after the commit."""
    result = dispatch.run_dispatch(runtime().config)
    return enqueue_attempts(result.queued)


@shared_task(name=TaskNames.PLACE_CALL)  # type: ignore[untyped-decorator]
def place_call(attempt_id: str) -> str:
    """Place one call (claim first; the provider is called with no DB session open)."""
    current = runtime()
    return outreach.place_call(uuid.UUID(attempt_id), current.provider, current.config).value


@shared_task(name=TaskNames.SEND_SMS)  # type: ignore[untyped-decorator]
def send_sms(attempt_id: str) -> str:
    """Send one SMS (claim first; only to a mobile, never after an opt-out)."""
    current = runtime()
    return outreach.send_sms(uuid.UUID(attempt_id), current.provider, current.config).value


@shared_task(name=TaskNames.PREPARE_LETTER)  # type: ignore[untyped-decorator]
def prepare_letter(attempt_id: str) -> str:
    """Record one letter for the next print batch."""
    return outreach.prepare_letter(uuid.UUID(attempt_id), runtime().config).value


@shared_task(name=TaskNames.APPLY_PROVIDER_EVENT, bind=True)  # type: ignore[untyped-decorator]
def apply_provider_event(task: Any, event_id: int) -> bool:
    """Apply one stored webhook; then redirect machine-answered calls, queue requested SMS,
    stop ringing handlers for patients who left, and offer waiting patients to free handlers.
    A call settled as bringing nobody to a handler, or a handler's call ending, starts a
    dispatch run now (``kick_dispatch``): pacing counted the call as a possible patient for a
    free handler until then, and counts a handler in wrap-up as free soon; beat's next run would
    leave that handler idle for up to its interval."""
    follow_ups, applied = events.apply_event(int(event_id))
    if applied:
        current = runtime()
        call_events.answer_machines(follow_ups, current.provider, current.config)
        for sms_attempt_id in follow_ups.sms_attempt_ids:
            send_sms.delay(str(sms_attempt_id))
        acd.hang_up_handler_calls(follow_ups.hang_up_calls, current.provider)
        if follow_ups.connect_handlers:
            connect_handlers.delay()
        if follow_ups.pace_now:
            kick_dispatch(redis_url_of(task.app))
    return applied


@shared_task(name=TaskNames.CONNECT_HANDLERS, bind=True)  # type: ignore[untyped-decorator]
def connect_handlers(task: Any) -> int:
    """Offer waiting patients to available handlers (longest waiting to longest idle) and ring
    them; returns how many handlers were rung. When nobody was waiting for a handler who is
    free, dispatch runs now (``kick_dispatch``) rather than at beat's next run, so pacing can
    start the calls that will bring that handler a patient."""
    current = runtime()
    rung = acd.connect_waiting(current.config, current.provider)
    if rung == 0:
        with session_scope(read_only=True) as session:
            free = handlers.any_available(session)
        if free:
            kick_dispatch(redis_url_of(task.app))
    return rung


# Kicks closer together than this are one kick: dispatch counts every free handler in a run.
DISPATCH_KICK_KEY = "rmc:dispatch-kick"
DISPATCH_KICK_DEBOUNCE_MS = 250


def kick_dispatch(redis_url: str) -> bool:
    """Enqueue a dispatch run now, unless one was kicked within the debounce time; returns
    whether it was enqueued. A lost kick costs nothing: beat runs dispatch every second."""
    try:
        first = client_for(redis_url).set(
            DISPATCH_KICK_KEY, "1", nx=True, px=DISPATCH_KICK_DEBOUNCE_MS
        )
    except RedisError:
        log.warning("dispatch kick skipped: Redis did not answer")
        return False
    if not first:
        return False
    dispatch_due_referrals.delay()
    return True


@shared_task(name=TaskNames.SWEEP_STUCK_ATTEMPTS)  # type: ignore[untyped-decorator]
def sweep_stuck_attempts() -> int:
    """Reconcile stuck attempts with the provider; re-queue lost work. Returns work enqueued."""
    current = runtime()
    result = reconcile.sweep(current.provider, current.config)
    count = enqueue_attempts(result.requeue)
    for event_id in result.events:
        apply_provider_event.delay(event_id)
    return count + len(result.events)


@shared_task(name=TaskNames.CUT_PRINT_BATCH)  # type: ignore[untyped-decorator]
def cut_print_batch() -> int:
    """After the cut time on a working day, cut the day's print batch (idempotent per day)."""
    from rmc_outreach import letters

    current = runtime()
    day = schedules.print_batch_day(current.config, now())
    if day is None:
        return 0
    with session_scope() as session:
        batch = letters.cut_print_batch(
            session,
            day=day,
            output_dir=current.settings.var_dir / "print",
            public=current.config.public_context,
        )
        return 0 if batch is None else batch.letter_count


@shared_task(name=TaskNames.ADVANCE_SIMULATED_CLOCK)  # type: ignore[untyped-decorator]
def advance_simulated_clock() -> bool:
    """Demo only: jump the shared simulated clock over quiet time (nothing under way) to the next
    moment something is due. Returns whether it jumped."""
    clock = simulated_clock()
    if clock is None:
        return False
    with session_scope(read_only=True) as session:
        target = schedules.clock_jump_target(session, runtime().config, now())
    if target is None:
        return False
    clock.advance_to(target)
    log.info("simulated clock advanced to the next moment something is due")
    return True


@shared_task(name=TaskNames.RUN_IMPORT)  # type: ignore[untyped-decorator]
def run_import(job_id: int) -> str | None:
    """Import a worklist uploaded in the browser (its job row says whether there is anything
    to do: a replayed task is a no-op). Returns the state the job ended in."""
    state = import_jobs.run_import_job(int(job_id), runtime().settings)
    return None if state is None else state.value


@shared_task(name=TaskNames.NOOP)  # type: ignore[untyped-decorator]
def noop() -> None:
    """Do nothing: ``benchmarks.pipeline`` times these to measure bare Celery throughput."""
