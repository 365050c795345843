"""Task and queue names, in one place, and which queue each task goes to.

Workers consume ``Queues.all()``; ``TASK_QUEUES`` becomes Celery's ``task_routes``, so a task
published anywhere lands on its queue without the caller naming it.
"""

from __future__ import annotations

from collections.abc import Mapping


class Queues:
    """Celery queue names. Work is split by kind so one backlog cannot starve another."""

    DEFAULT = "default"
    PERIODIC = "periodic"
    CALLS = "calls"
    SMS = "sms"
    LETTERS = "letters"
    PROVIDER_EVENTS = "provider-events"
    # Worklists uploaded in the browser: a long import never holds up calls or events.
    IMPORTS = "imports"
    # Only benchmarks publish here: bare Celery throughput, measured apart from real work.
    NOOP = "noop"

    @classmethod
    def all(cls) -> tuple[str, ...]:
        """Every queue name, so a plain ``celery worker`` consumes all of them."""
        return (
            cls.DEFAULT,
            cls.PERIODIC,
            cls.CALLS,
            cls.SMS,
            cls.LETTERS,
            cls.PROVIDER_EVENTS,
            cls.IMPORTS,
            cls.NOOP,
        )


class TaskNames:
    """Explicit kebab-case task names: a message names its task by these, so never rename one
    while messages for it may still be queued."""

    RECORD_HEARTBEAT = "record-heartbeat"
    DISPATCH_DUE_REFERRALS = "dispatch-due-referrals"
    PLACE_CALL = "place-call"
    SEND_SMS = "send-sms"
    PREPARE_LETTER = "prepare-letter"
    APPLY_PROVIDER_EVENT = "apply-provider-event"
    CONNECT_HANDLERS = "connect-handlers"
    SWEEP_STUCK_ATTEMPTS = "sweep-stuck-attempts"
    CUT_PRINT_BATCH = "cut-print-batch"
    ADVANCE_SIMULATED_CLOCK = "advance-simulated-clock"
    RUN_IMPORT = "run-import"
    NOOP = "noop"


TASK_QUEUES: Mapping[str, str] = {
    TaskNames.RECORD_HEARTBEAT: Queues.PERIODIC,
    TaskNames.DISPATCH_DUE_REFERRALS: Queues.PERIODIC,
    TaskNames.PLACE_CALL: Queues.CALLS,
    TaskNames.SEND_SMS: Queues.SMS,
    TaskNames.PREPARE_LETTER: Queues.LETTERS,
    TaskNames.APPLY_PROVIDER_EVENT: Queues.PROVIDER_EVENTS,
    TaskNames.CONNECT_HANDLERS: Queues.CALLS,
    TaskNames.SWEEP_STUCK_ATTEMPTS: Queues.PERIODIC,
    TaskNames.CUT_PRINT_BATCH: Queues.LETTERS,
    TaskNames.ADVANCE_SIMULATED_CLOCK: Queues.PERIODIC,
    TaskNames.RUN_IMPORT: Queues.IMPORTS,
    TaskNames.NOOP: Queues.NOOP,
}
