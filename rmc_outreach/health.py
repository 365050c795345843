"""Service health: can we reach the database and Redis, and are worker and beat alive?

Used by the web process's ``/healthz`` and by the queue page's health line. Errors are reported
by exception class only: messages can carry connection URLs with passwords in them.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import redis
from sqlalchemy import Engine

from rmc_outreach.heartbeat import Component, HeartbeatStatus, client_for, read_heartbeat

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class ServiceHealth:
    """The result of one health check; ``ok`` covers what the web process itself depends on."""

    database_ok: bool
    database_error: str | None
    redis_configured: bool
    redis_ok: bool
    redis_error: str | None
    worker: HeartbeatStatus | None
    beat: HeartbeatStatus | None

    @property
    def ok(self) -> bool:
        """True when the database and Redis both answer (workers may still be down)."""
        return self.database_ok and self.redis_ok

    def as_dict(self) -> dict[str, Any]:
        """A JSON-ready summary, free of URLs and error messages."""
        return {
            "status": "ok" if self.ok else "unavailable",
            "database": {"ok": self.database_ok, "error": self.database_error},
            "redis": {
                "ok": self.redis_ok,
                "configured": self.redis_configured,
                "error": self.redis_error,
            },
            "worker": _heartbeat_dict(self.worker),
            "beat": _heartbeat_dict(self.beat),
        }


def _heartbeat_dict(status: HeartbeatStatus | None) -> dict[str, Any]:
    if status is None:
        return {"running": None, "last_seen_at": None, "age_seconds": None}
    return {
        "running": status.running,
        "last_seen_at": status.last_seen_at.isoformat() if status.last_seen_at else None,
        "age_seconds": round(status.age_seconds, 1) if status.age_seconds is not None else None,
    }


def check_database(engine: Engine) -> str | None:
    """None when the database answers ``SELECT 1``, else the error's class name.

    A raw DBAPI connection is used so that, on SQLite, the check takes no write lock.
    """
    try:
        connection = engine.raw_connection()
        try:
            cursor = connection.cursor()
            cursor.execute("SELECT 1")
            cursor.fetchone()
            cursor.close()
        finally:
            connection.close()
    except Exception as error:  # a health check reports every failure, whatever its kind
        logger.warning("database health check failed: %s", type(error).__name__)
        return type(error).__name__
    return None


def check_service_health(engine: Engine, redis_url: str | None) -> ServiceHealth:
    """Check the database, Redis and the worker and beat heartbeats kept in Redis."""
    database_error = check_database(engine)
    if redis_url is None:
        return ServiceHealth(
            database_ok=database_error is None,
            database_error=database_error,
            redis_configured=False,
            redis_ok=False,
            redis_error="not configured",
            worker=None,
            beat=None,
        )
    client = client_for(redis_url)
    try:
        client.ping()
        worker = read_heartbeat(client, Component.WORKER)
        beat = read_heartbeat(client, Component.BEAT)
    except redis.exceptions.RedisError as error:
        logger.warning("redis health check failed: %s", type(error).__name__)
        return ServiceHealth(
            database_ok=database_error is None,
            database_error=database_error,
            redis_configured=True,
            redis_ok=False,
            redis_error=type(error).__name__,
            worker=None,
            beat=None,
        )
    return ServiceHealth(
        database_ok=database_error is None,
        database_error=database_error,
        redis_configured=True,
        redis_ok=True,
        redis_error=None,
        worker=worker,
        beat=beat,
    )
