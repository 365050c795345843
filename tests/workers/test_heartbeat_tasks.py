"""The heartbeat task and the beat scheduler write heartbeats that read back from real Redis."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import redis
from celery import Celery

from rmc_outreach.clock import frozen_at, now
from rmc_outreach.config import load_settings
from rmc_outreach.heartbeat import Component, read_heartbeat
from workers.beat import HeartbeatScheduler
from workers.celery_app import create_celery_app
from workers.tasks import record_worker_heartbeat


def app_on(redis_url: str, tmp_path: Path) -> Celery:
    settings = load_settings(
        {
            "REDIS_URL": redis_url,
            "RMC_VAR_DIR": str(tmp_path / "var"),
            "SECRET_KEY": "test-" + "x" * 40,
        }
    )
    return create_celery_app(settings)


def test_the_worker_heartbeat_task_records_the_time_it_ran(
    redis_client: redis.Redis, redis_url: str, tmp_path: Path
) -> None:
    app_on(redis_url, tmp_path).set_current()
    assert read_heartbeat(redis_client, Component.WORKER).last_seen_at is None
    ran_at = now() - timedelta(seconds=42)

    with frozen_at(ran_at):
        record_worker_heartbeat()

    status = read_heartbeat(redis_client, Component.WORKER)
    assert status.last_seen_at == ran_at
    assert status.age_seconds is not None and status.age_seconds >= 42
    assert status.running is False  # older than the 30 s staleness limit
    assert read_heartbeat(redis_client, Component.BEAT).last_seen_at is None


def test_a_fresh_worker_heartbeat_counts_as_running(
    redis_client: redis.Redis, redis_url: str, tmp_path: Path
) -> None:
    app_on(redis_url, tmp_path).set_current()

    record_worker_heartbeat()

    assert read_heartbeat(redis_client, Component.WORKER).running is True


def test_each_beat_tick_records_the_beat_heartbeat(
    redis_client: redis.Redis, redis_url: str, tmp_path: Path
) -> None:
    app = app_on(redis_url, tmp_path)
    # Nothing is due to be sent: the tick must record the heartbeat and publish nothing.
    app.conf.beat_schedule = {}
    scheduler = HeartbeatScheduler(app=app, schedule_filename=str(tmp_path / "beat-schedule"))
    try:
        ticked_at = now() - timedelta(seconds=7)
        with frozen_at(ticked_at):
            scheduler.tick()
    finally:
        scheduler.close()

    assert read_heartbeat(redis_client, Component.BEAT).last_seen_at == ticked_at
    assert read_heartbeat(redis_client, Component.WORKER).last_seen_at is None
    assert redis_client.llen("periodic") == 0
