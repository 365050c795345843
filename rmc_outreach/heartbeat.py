"""Heartbeats of the background processes, kept in Redis so the web process can show their health.

The beat process writes ``rmc:heartbeat:beat`` on every scheduler tick; the worker writes
``rmc:heartbeat:worker`` each time it runs the ``record-heartbeat`` task, which beat schedules every
few seconds. So a fresh worker heartbeat proves that beat, the broker and a worker all work; a fresh
beat heartbeat with a stale worker heartbeat points at the workers. Each value is the time of the
beat as an ISO 8601 UTC timestamp, nothing else.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from functools import lru_cache

import redis

from rmc_outreach.clock import now

KEY_PREFIX = "rmc:heartbeat:"
# Keep a heartbeat for a day so the page can say "last seen 3 h ago" rather than "never".
KEY_TTL_SECONDS = 24 * 60 * 60
# Beats come every 5 s; a process silent for longer than this is reported as not running.
STALE_AFTER_SECONDS = 30.0
REDIS_TIMEOUT_SECONDS = 2.0


class Component(StrEnum):
    """A background process that reports a heartbeat."""

    WORKER = "worker"
    BEAT = "beat"


@dataclass(frozen=True)
class HeartbeatStatus:
    """What is known of one component's heartbeat at a moment."""

    component: Component
    last_seen_at: datetime | None
    age_seconds: float | None

    @property
    def running(self) -> bool:
        """True when the component beat recently enough to be considered alive."""
        return self.age_seconds is not None and self.age_seconds <= STALE_AFTER_SECONDS


def heartbeat_key(component: Component) -> str:
    """The Redis key holding the component's last heartbeat."""
    return KEY_PREFIX + component.value


@lru_cache(maxsize=8)
def client_for(redis_url: str) -> redis.Redis:
    """A shared client for ``redis_url`` with short timeouts (a health check must not hang).

    redis-py's connection pool notices a fork and reconnects, so one client per URL is safe in
    the web and worker processes alike.
    """
    client: redis.Redis = redis.Redis.from_url(
        redis_url,
        socket_connect_timeout=REDIS_TIMEOUT_SECONDS,
        socket_timeout=REDIS_TIMEOUT_SECONDS,
    )
    return client


def record_heartbeat(
    client: redis.Redis, component: Component, at: datetime | None = None
) -> datetime:
    """Store ``at`` (default: now) as the component's last heartbeat and return it."""
    moment = at or now()
    client.set(heartbeat_key(component), moment.isoformat(), ex=KEY_TTL_SECONDS)
    return moment


def read_heartbeat(client: redis.Redis, component: Component) -> HeartbeatStatus:
    """The component's last heartbeat and its age; both None when it never beat (or expired).

    Raises redis.exceptions.RedisError when Redis cannot be reached.
    """
    raw = client.get(heartbeat_key(component))
    if raw is None:
        return HeartbeatStatus(component, None, None)
    text = raw.decode("ascii") if isinstance(raw, bytes) else str(raw)
    try:
        last_seen_at = datetime.fromisoformat(text)
    except ValueError:
        return HeartbeatStatus(component, None, None)
    if last_seen_at.tzinfo is None:
        return HeartbeatStatus(component, None, None)
    age = max(0.0, (now() - last_seen_at).total_seconds())
    return HeartbeatStatus(component, last_seen_at, age)
