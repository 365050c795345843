"""Bare Celery throughput on this machine: how many no-op tasks per second a worker gets through.

The yardstick for ``call_attempts_per_s``: same broker (the run's Redis), same app configuration
(acks late, prefetch 1, JSON), same worker concurrency, a task that does nothing. A worker that
consumes only the ``noop`` queue is started; a warm-up batch is published and drained (the worker
is up and its pool forked); then ``tasks`` no-ops are published and the clock runs from the first
publish until the queue is empty and no message is left unacknowledged, i.e. every task ran and
was acknowledged. No result backend is involved (tasks ignore results, as every task here does).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import redis
from celery import Celery

from workers.queues import Queues, TaskNames

WARM_UP_TASKS = 100
POLL_S = 0.005
DRAIN_TIMEOUT_S = 300.0
# Where kombu's Redis transport keeps delivered but unacknowledged messages.
UNACKED_KEY = "unacked"


@dataclass(frozen=True)
class NoopThroughput:
    """``tasks`` no-ops published and drained in ``seconds``."""

    tasks: int
    seconds: float

    @property
    def per_s(self) -> float:
        """Tasks per second."""
        return self.tasks / self.seconds if self.seconds > 0 else 0.0


def _outstanding(client: redis.Redis, unacked_before: int) -> int:
    """Messages still queued on the no-op queue (any priority) or delivered but not acked."""
    queued = sum(int(client.llen(key)) for key in client.scan_iter(f"{Queues.NOOP}*"))
    unacked = int(client.hlen(UNACKED_KEY)) - unacked_before
    return queued + max(0, unacked)


def _drain(client: redis.Redis, unacked_before: int) -> None:
    # Zero twice in a row: a message the worker has just popped is briefly in neither place.
    deadline = time.monotonic() + DRAIN_TIMEOUT_S
    zeros = 0
    while zeros < 2:
        if time.monotonic() > deadline:
            raise RuntimeError("no-op tasks were not drained in time: is the noop worker up?")
        zeros = zeros + 1 if _outstanding(client, unacked_before) == 0 else 0
        time.sleep(POLL_S)


def _publish(app: Celery, count: int) -> None:
    with app.producer_or_acquire() as producer:
        for _ in range(count):
            app.send_task(TaskNames.NOOP, producer=producer)


def measure_noop_throughput(app: Celery, redis_url: str, tasks: int) -> NoopThroughput:
    """Warm up, then time ``tasks`` no-ops from the first publish to the last acknowledgement.

    A worker consuming ``Queues.NOOP`` must be running and no other worker may consume meanwhile:
    the unacknowledged-message count is the broker's, not the queue's. Messages a killed worker
    left unacknowledged earlier in the run are counted once before and discounted.
    """
    client = redis.Redis.from_url(redis_url)
    try:
        unacked_before = int(client.hlen(UNACKED_KEY))
        _publish(app, WARM_UP_TASKS)
        _drain(client, unacked_before)
        started = time.perf_counter()
        _publish(app, tasks)
        _drain(client, unacked_before)
        return NoopThroughput(tasks, time.perf_counter() - started)
    finally:
        client.close()
