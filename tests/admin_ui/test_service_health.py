"""/healthz and the queue page's health line, against the real database and Redis."""

from __future__ import annotations

import dataclasses
import re
from datetime import timedelta

import redis
from flask.testing import FlaskClient
from sqlalchemy import Engine

from admin_ui import create_app
from rmc_outreach.clock import now
from rmc_outreach.config import Settings
from rmc_outreach.embedded_redis import free_port
from rmc_outreach.heartbeat import Component, record_heartbeat
from rmc_outreach.models import Role
from tests.admin_ui.conftest import signed_in_client
from workers.celery_app import create_celery_app
from workers.tasks import record_worker_heartbeat


def health_line(html: str) -> str:
    """The text of the service health section."""
    section = re.search(r'<section class="health".*?</section>', html, re.DOTALL)
    assert section is not None
    return " ".join(re.sub(r"<[^>]+>", " ", section.group(0)).split())


def test_healthz_is_200_when_the_database_and_redis_answer(
    database: Engine, client: FlaskClient, redis_client: redis.Redis
) -> None:
    response = client.get("/healthz")

    assert response.status_code == 200
    body = response.get_json()
    assert body["status"] == "ok"
    assert body["database"]["ok"] is True
    assert body["redis"]["ok"] is True
    assert body["worker"]["running"] is False  # no worker in tests
    assert body["worker"]["last_seen_at"] is None


def test_healthz_is_503_when_redis_cannot_be_reached(
    database: Engine, web_settings: Settings
) -> None:
    nobody_listens = f"redis://127.0.0.1:{free_port()}/0"
    client = create_app(dataclasses.replace(web_settings, redis_url=nobody_listens)).test_client()

    response = client.get("/healthz")

    assert response.status_code == 503
    body = response.get_json()
    assert body["status"] == "unavailable"
    assert body["database"]["ok"] is True
    assert body["redis"]["ok"] is False
    assert body["redis"]["error"] == "ConnectionError"
    assert "127.0.0.1" not in response.get_data(as_text=True)


def test_healthz_is_503_when_redis_is_not_configured(
    database: Engine, web_settings: Settings
) -> None:
    client = create_app(dataclasses.replace(web_settings, redis_url=None)).test_client()

    response = client.get("/healthz")

    assert response.status_code == 503
    assert response.get_json()["redis"] == {
        "ok": False,
        "configured": False,
        "error": "not configured",
    }


def test_the_page_shows_redis_unreachable_and_still_lists_the_queue(
    database: Engine, web_settings: Settings
) -> None:
    nobody_listens = f"redis://127.0.0.1:{free_port()}/0"
    app = create_app(dataclasses.replace(web_settings, redis_url=nobody_listens))
    client = signed_in_client(app, Role.SUPERVISOR)

    response = client.get("/")

    assert response.status_code == 200
    line = health_line(response.get_data(as_text=True))
    assert "Database: OK" in line
    assert "Redis: unreachable" in line
    assert "Worker: unknown" in line


def test_the_page_reads_back_the_heartbeat_the_worker_task_records(
    database: Engine, client: FlaskClient, redis_client: redis.Redis, web_settings: Settings
) -> None:
    before = health_line(client.get("/").get_data(as_text=True))
    assert "Worker: not running (never seen)" in before

    # The task runs in-process against the real test Redis, exactly as a worker runs it.
    create_celery_app(web_settings).set_current()
    record_worker_heartbeat()

    after = health_line(client.get("/").get_data(as_text=True))
    assert re.search(r"Worker: last seen \d+ s ago", after)
    assert "Beat: not running (never seen)" in after
    assert client.get("/healthz").get_json()["worker"]["running"] is True


def test_a_stale_heartbeat_is_reported_as_not_running_with_its_age(
    database: Engine, client: FlaskClient, redis_client: redis.Redis
) -> None:
    record_heartbeat(redis_client, Component.BEAT, at=now() - timedelta(minutes=5))

    line = health_line(client.get("/").get_data(as_text=True))

    assert "Beat: not running (last seen 5 min ago)" in line
