"""Celery tasks: thin adapters over ``rmc_outreach``.

Every task has an explicit kebab-case name from ``TaskNames`` and a queue in ``TASK_QUEUES`` (both
in ``workers.queues``), and takes ids only, never patient data. Tasks are declared with
``shared_task`` so they never import the app.
"""

from __future__ import annotations

from typing import Any

from celery import shared_task

from rmc_outreach.heartbeat import Component, client_for, record_heartbeat
from workers.celery_app import redis_url_of
from workers.queues import TaskNames


@shared_task(name=TaskNames.RECORD_HEARTBEAT, bind=True)  # type: ignore[untyped-decorator]
def record_worker_heartbeat(task: Any) -> None:
    """Record that a worker is alive; beat sends this every few seconds."""
    record_heartbeat(client_for(redis_url_of(task.app)), Component.WORKER)
