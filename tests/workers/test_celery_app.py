"""The Celery app's configuration, its tasks' names and queues, and test isolation."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from celery import Celery

import workers.celery_app as celery_app_module
from rmc_outreach.config import ConfigError, Settings, load_settings
from tests.celery_isolation import NOT_ISOLATED_BROKER_URL
from workers.celery_app import BEAT_SCHEDULE, create_celery_app
from workers.queues import TASK_QUEUES, Queues
from workers.tasks import record_worker_heartbeat

KEBAB_CASE = re.compile(r"^[a-z0-9]+(-[a-z0-9]+)*$")


def development_settings(tmp_path: Path, redis_url: str | None) -> Settings:
    env = {"RMC_VAR_DIR": str(tmp_path / "var"), "SECRET_KEY": "test-" + "x" * 40}
    if redis_url:
        env["REDIS_URL"] = redis_url
    return load_settings(env)


@pytest.fixture
def app(tmp_path: Path) -> Celery:
    return create_celery_app(development_settings(tmp_path, "redis://127.0.0.1:6399/3"))


def test_the_app_uses_redis_from_settings_as_broker_and_result_backend(app: Celery) -> None:
    assert app.conf.broker_url == "redis://127.0.0.1:6399/3"
    assert app.conf.result_backend == "redis://127.0.0.1:6399/3"


def test_the_app_acknowledges_late_prefetches_one_and_speaks_only_json(app: Celery) -> None:
    conf = app.conf
    assert conf.task_acks_late is True
    assert conf.task_reject_on_worker_lost is True
    assert conf.worker_prefetch_multiplier == 1
    assert conf.task_serializer == "json"
    assert conf.result_serializer == "json"
    assert list(conf.accept_content) == ["json"]
    assert conf.timezone == "UTC"
    assert conf.enable_utc is True
    assert conf.broker_connection_retry_on_startup is True


def test_the_default_queue_and_every_consumed_queue_come_from_queues(app: Celery) -> None:
    assert app.conf.task_default_queue == Queues.DEFAULT
    assert sorted(queue.name for queue in app.conf.task_queues) == sorted(Queues.all())
    assert len(set(Queues.all())) == len(Queues.all())
    assert all(KEBAB_CASE.match(name) for name in Queues.all())


def test_the_beat_schedule_file_lives_in_the_var_folder(app: Celery, tmp_path: Path) -> None:
    assert Path(app.conf.beat_schedule_filename).parent == (tmp_path / "var").resolve()


def test_without_redis_url_building_the_app_says_redis_url_is_needed(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="REDIS_URL is needed"):
        create_celery_app(development_settings(tmp_path, None))


def test_the_module_app_is_built_from_the_environment_on_first_use(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, celery_isolated: Celery
) -> None:
    monkeypatch.setattr(celery_app_module, "_app", None)
    monkeypatch.setenv("REDIS_URL", "redis://127.0.0.1:6398/5")
    monkeypatch.setenv("RMC_VAR_DIR", str(tmp_path / "var"))
    monkeypatch.setenv("SECRET_KEY", "test-" + "x" * 40)

    built = celery_app_module.app

    assert built.conf.broker_url == "redis://127.0.0.1:6398/5"
    assert celery_app_module.app is built


def test_every_task_has_an_explicit_kebab_case_name_and_a_queue_from_queues(app: Celery) -> None:
    app.loader.import_default_modules()
    ours = {name: task for name, task in app.tasks.items() if not name.startswith("celery.")}

    assert ours, "the app should include workers.tasks"
    for name, task in ours.items():
        assert KEBAB_CASE.match(name), name
        assert task.__module__ == "workers.tasks"
        assert TASK_QUEUES[name] in Queues.all(), name
        routed = app.amqp.router.route({}, name)
        assert routed["queue"].name == TASK_QUEUES[name], name


def test_every_beat_entry_names_a_registered_task_on_a_known_queue(app: Celery) -> None:
    app.loader.import_default_modules()
    assert BEAT_SCHEDULE
    for entry in BEAT_SCHEDULE.values():
        assert entry["task"] in app.tasks
        assert TASK_QUEUES[entry["task"]] in Queues.all()
    assert app.conf.beat_schedule == BEAT_SCHEDULE
    assert app.conf.beat_scheduler == "workers.beat:HeartbeatScheduler"


def test_a_test_that_publishes_a_task_without_isolating_celery_fails_loudly(
    celery_isolated: Celery,
) -> None:
    assert celery_isolated.conf.broker_url == NOT_ISOLATED_BROKER_URL

    with pytest.raises(KeyError, match="celery-is-not-isolated-in-this-test"):
        record_worker_heartbeat.delay()


def test_beat_offers_waiting_patients_to_handlers_every_two_seconds_on_the_calls_queue() -> None:
    from workers.queues import TASK_QUEUES, Queues, TaskNames

    entry = BEAT_SCHEDULE[TaskNames.CONNECT_HANDLERS]
    assert (entry["task"], entry["schedule"]) == ("connect-handlers", 2.0)
    assert TASK_QUEUES[TaskNames.CONNECT_HANDLERS] == Queues.CALLS
