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
        )


class TaskNames:
    """Explicit kebab-case task names: a message names its task by these, so never rename one
    while messages for it may still be queued."""

    RECORD_HEARTBEAT = "record-heartbeat"


TASK_QUEUES: Mapping[str, str] = {
    TaskNames.RECORD_HEARTBEAT: Queues.PERIODIC,
}
