"""The beat scheduler: Celery's persistent scheduler, plus a heartbeat on every tick."""

from __future__ import annotations

import logging
from typing import Any

import redis
from celery.beat import PersistentScheduler

from rmc_outreach.heartbeat import Component, client_for, record_heartbeat
from workers.celery_app import redis_url_of

logger = logging.getLogger(__name__)


class HeartbeatScheduler(PersistentScheduler):  # type: ignore[misc]  # Celery is untyped
    """Records the beat heartbeat in Redis each tick, so the web can tell beat is alive even
    when no worker is running the tasks it sends."""

    def tick(self, *args: Any, **kwargs: Any) -> float:
        """Record the heartbeat, then run the scheduler's tick; returns seconds to sleep."""
        self.record_beat_heartbeat()
        interval: float = super().tick(*args, **kwargs)
        return interval

    def record_beat_heartbeat(self) -> None:
        """Write the beat heartbeat; a Redis failure is logged, never fatal to scheduling."""
        try:
            record_heartbeat(client_for(redis_url_of(self.app)), Component.BEAT)
        except redis.exceptions.RedisError as error:
            logger.warning("could not record the beat heartbeat: %s", type(error).__name__)
