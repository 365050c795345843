"""Shared fixtures: real databases (SQLite and PostgreSQL) and a real Redis.

Every test that asks for ``database`` runs once per backend. PostgreSQL comes from
``TEST_POSTGRES_URL`` (default: the local server, trust auth); a fresh database is made for the
session and dropped after. Where PostgreSQL cannot be reached those runs are skipped, unless
``RMC_TEST_REQUIRE_POSTGRES=1`` (as in CI), which makes that a failure. ``RMC_TEST_DATABASES``
narrows the backends (``sqlite``, ``postgresql``).

Redis comes from ``REDIS_URL`` when set, else a private server started for the session.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url

import rmc_outreach.models  # noqa: F401
from rmc_outreach import db as db_module
from rmc_outreach.config import Settings, load_settings
from rmc_outreach.db import Base, make_engine
from rmc_outreach.embedded_redis import EmbeddedRedis
from rmc_outreach.migrate import upgrade_to_head
from rmc_outreach.settings_store.live import live_settings
from tests.celery_isolation import celery_isolated, isolated_celery_app  # noqa: F401

DEFAULT_POSTGRES_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
BACKENDS = [
    name.strip()
    for name in os.environ.get("RMC_TEST_DATABASES", "sqlite,postgresql").split(",")
    if name.strip()
]


def _postgres_admin_url() -> str:
    url = os.environ.get("TEST_POSTGRES_URL", DEFAULT_POSTGRES_URL)
    return url.replace("postgresql://", "postgresql+psycopg://", 1)


def _create_postgres_database() -> tuple[str, Engine]:
    admin_engine = create_engine(
        _postgres_admin_url(), isolation_level="AUTOCOMMIT", connect_args={"connect_timeout": 3}
    )
    name = f"rmc_test_{uuid.uuid4().hex[:12]}"
    with admin_engine.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    url = make_url(_postgres_admin_url()).set(database=name)
    return url.render_as_string(hide_password=False), admin_engine


@pytest.fixture(scope="session", params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    """The database backend this run of the test uses."""
    name: str = request.param
    return name


@pytest.fixture(scope="session")
def migrated_engine(backend: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    """An engine on a fresh database of the backend, migrated to head by Alembic."""
    if backend == "sqlite":
        path = tmp_path_factory.mktemp("sqlite") / "test.sqlite3"
        engine = make_engine(f"sqlite:///{path}")
        upgrade_to_head(engine)
        yield engine
        engine.dispose()
        return
    if backend != "postgresql":
        raise ValueError(f"unknown backend {backend!r} in RMC_TEST_DATABASES")
    try:
        url, admin_engine = _create_postgres_database()
    except Exception as error:
        if os.environ.get("RMC_TEST_REQUIRE_POSTGRES") == "1":
            raise
        pytest.skip(f"PostgreSQL not reachable ({type(error).__name__}); set TEST_POSTGRES_URL")
    engine = make_engine(url)
    upgrade_to_head(engine)
    yield engine
    engine.dispose()
    with admin_engine.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{engine.url.database}" WITH (FORCE)'))
    admin_engine.dispose()


def empty_all_tables(engine: Engine) -> None:
    """Delete every row (children first), keeping the schema."""
    with engine.begin() as connection:
        for table in reversed(Base.metadata.sorted_tables):
            connection.execute(table.delete())


@pytest.fixture
def database(migrated_engine: Engine) -> Iterator[Engine]:
    """The migrated engine, installed as the process's engine, emptied after the test."""
    db_module.configure(engine=migrated_engine)
    try:
        yield migrated_engine
    finally:
        empty_all_tables(migrated_engine)
        # The process's cached view of stored settings must not outlive the rows.
        live_settings.reset()


@pytest.fixture
def settings(database: Engine, tmp_path: Path) -> Settings:
    """Development settings pointing at the test database and a private var/ folder."""
    return load_settings(
        {
            "DATABASE_URL": database.url.render_as_string(hide_password=False),
            "RMC_VAR_DIR": str(tmp_path / "var"),
            "SECRET_KEY": "test-secret-key-" + "x" * 32,
        }
    )


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real Redis: REDIS_URL if set, else a private server for this test session."""
    configured = os.environ.get("REDIS_URL")
    if configured:
        yield configured
        return
    with EmbeddedRedis(tmp_path_factory.mktemp("redis")) as server:
        yield server.url


@pytest.fixture
def redis_client(redis_url: str) -> Iterator[redis.Redis]:
    """A client on the test Redis, its database emptied before and after the test."""
    client: redis.Redis = redis.Redis.from_url(redis_url)
    client.flushdb()
    yield client
    client.flushdb()
    client.close()
