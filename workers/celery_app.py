"""The Celery app, built from settings.

``celery -A workers.celery_app worker`` and ``celery -A workers.celery_app beat`` find ``app``
here. It is built on first access, not at import, so importing this module (as tests do) needs no
Redis. Tasks are declared with ``shared_task`` in ``workers.tasks`` and never import the app.
"""

from __future__ import annotations

from typing import Any

from celery import Celery
from kombu import Queue  # type: ignore[attr-defined]

from rmc_outreach import clock
from rmc_outreach.config import ConfigError, Settings, load_settings
from rmc_outreach.dispatch import DISPATCH_INTERVAL
from workers.queues import TASK_QUEUES, Queues, TaskNames

# Where the app keeps the Redis URL used for our own keys (heartbeats, locks). It is the broker's
# URL except in tests, which point the broker at a transport that does not exist.
REDIS_URL_SETTING = "rmc_redis_url"

HEARTBEAT_INTERVAL_SECONDS = 5.0
DISPATCH_INTERVAL_SECONDS = DISPATCH_INTERVAL.total_seconds()
# A safety net: connect-handlers is also enqueued whenever a patient starts waiting or a handler
# may be free.
CONNECT_HANDLERS_INTERVAL_SECONDS = 2.0
SWEEP_INTERVAL_SECONDS = 30.0
PRINT_BATCH_CHECK_INTERVAL_SECONDS = 60.0
CLOCK_ADVANCE_INTERVAL_SECONDS = 2.0


def _every(task: str, seconds: float) -> dict[str, Any]:
    # A periodic task that waited in the queue past its next run is worthless: drop it rather
    # than pile them up while no worker runs.
    return {"task": task, "schedule": seconds, "options": {"expires": 2 * seconds}}


BEAT_SCHEDULE: dict[str, dict[str, Any]] = {
    TaskNames.RECORD_HEARTBEAT: _every(TaskNames.RECORD_HEARTBEAT, HEARTBEAT_INTERVAL_SECONDS),
    TaskNames.DISPATCH_DUE_REFERRALS: _every(
        TaskNames.DISPATCH_DUE_REFERRALS, DISPATCH_INTERVAL_SECONDS
    ),
    TaskNames.CONNECT_HANDLERS: _every(
        TaskNames.CONNECT_HANDLERS, CONNECT_HANDLERS_INTERVAL_SECONDS
    ),
    TaskNames.SWEEP_STUCK_ATTEMPTS: _every(TaskNames.SWEEP_STUCK_ATTEMPTS, SWEEP_INTERVAL_SECONDS),
    TaskNames.CUT_PRINT_BATCH: _every(
        TaskNames.CUT_PRINT_BATCH, PRINT_BATCH_CHECK_INTERVAL_SECONDS
    ),
}
# Only with RMC_CLOCK=simulated (demo, benchmarks): jump the shared clock over closed hours.
SIMULATED_CLOCK_SCHEDULE: dict[str, dict[str, Any]] = {
    TaskNames.ADVANCE_SIMULATED_CLOCK: _every(
        TaskNames.ADVANCE_SIMULATED_CLOCK, CLOCK_ADVANCE_INTERVAL_SECONDS
    ),
}


def create_celery_app(settings: Settings | None = None, *, broker_url: str | None = None) -> Celery:
    """Build the Celery app: broker and result backend on ``settings.redis_url``.

    ``broker_url`` replaces the broker and result backend; the test configuration uses it to
    point Celery at a transport that does not exist, so a test that publishes a task without
    meaning to fails at once. Raises ConfigError when there is no Redis URL.
    """
    settings = settings or load_settings()
    clock.configure_clock(settings)
    transport_url = broker_url or settings.redis_url
    if transport_url is None:
        raise ConfigError(
            "REDIS_URL is needed to run the Celery worker and beat (for example "
            "REDIS_URL=redis://127.0.0.1:6379/0). `make demo` starts a private Redis and sets it."
        )
    app = Celery("rmc_outreach", include=["workers.tasks"])
    app.conf.update(
        broker_url=transport_url,
        result_backend=transport_url,
        broker_connection_retry_on_startup=True,
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        task_serializer="json",
        result_serializer="json",
        accept_content=["json"],
        result_accept_content=["json"],
        # Tasks record their outcome in the database; results in Redis would only pile up.
        task_ignore_result=True,
        result_expires=3600,
        task_default_queue=Queues.DEFAULT,
        task_queues=[
            Queue(name, routing_key=name)  # type: ignore[no-untyped-call]
            for name in Queues.all()
        ],
        task_routes={task: {"queue": queue} for task, queue in TASK_QUEUES.items()},
        timezone="UTC",
        enable_utc=True,
        beat_schedule=(
            BEAT_SCHEDULE | SIMULATED_CLOCK_SCHEDULE
            if settings.clock_mode == "simulated"
            else BEAT_SCHEDULE
        ),
        beat_scheduler="workers.beat:HeartbeatScheduler",
        beat_schedule_filename=str(settings.var_dir / "celerybeat-schedule"),
        **{REDIS_URL_SETTING: settings.redis_url},
    )
    return app


def redis_url_of(app: Celery) -> str:
    """The Redis URL for our own keys; raises ConfigError when the app has none."""
    url: str | None = app.conf.get(REDIS_URL_SETTING)
    if not url:
        raise ConfigError("REDIS_URL is needed to record heartbeats")
    return url


_app: Celery | None = None


def __getattr__(name: str) -> Any:
    # The module attribute ``app``, built on first access (PEP 562) from the environment.
    global _app  # noqa: PLW0603
    if name == "app":
        if _app is None:
            _app = create_celery_app()
        return _app
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
