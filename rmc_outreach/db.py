"""Database engine, sessions and the declarative base.

One engine per process, made from settings on first use. Transactions are explicit::

    with session_scope() as session:
        ...

commits on success and rolls back on any exception, so nothing is ever half-written.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import DateTime, Engine, MetaData, create_engine, event
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker
from sqlalchemy.pool import ConnectionPoolEntry
from sqlalchemy.types import TypeDecorator

from rmc_outreach.config import Settings, load_settings

# Deterministic constraint names, identical on PostgreSQL and SQLite, so migrations can name them.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    """Declarative base for every model."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class UtcDateTime(TypeDecorator[datetime]):
    """A timestamp that is always timezone-aware UTC in Python, on PostgreSQL and SQLite alike.

    SQLite keeps no zone, so values are stored as naive UTC there and made aware again on load.
    Naive datetimes are refused on the way in: they are a bug waiting to happen.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UtcDateTime column; use clock.now()")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


def _configure_sqlite(dbapi_connection: Any, _record: ConnectionPoolEntry) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


def make_engine(database_url: str) -> Engine:
    """Create an engine with the settings each backend needs for several processes at once."""
    if database_url.startswith("sqlite"):
        if database_url.startswith("sqlite:///") and ":memory:" not in database_url:
            from pathlib import Path

            Path(database_url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(database_url, connect_args={"timeout": 30}, hide_parameters=True)
        event.listen(engine, "connect", _configure_sqlite)
        # pysqlite's own transaction handling defers BEGIN; take control so that a transaction
        # really begins when SQLAlchemy says so (needed for atomic claims across processes).
        event.listen(engine, "connect", _disable_pysqlite_begin)
        event.listen(engine, "begin", _emit_begin_immediate)
        return engine
    return create_engine(
        database_url,
        pool_pre_ping=True,
        pool_size=5,
        max_overflow=5,
        connect_args={"connect_timeout": 5},
        # Errors and logs never quote statement parameters: they can hold patient data.
        hide_parameters=True,
    )


def _disable_pysqlite_begin(dbapi_connection: Any, _record: ConnectionPoolEntry) -> None:
    dbapi_connection.isolation_level = None


def _emit_begin_immediate(connection: Any) -> None:
    # IMMEDIATE takes the write lock at the start, so two writers queue instead of deadlocking
    # (a deferred transaction that reads, then writes, fails when another writer got in first).
    # Read-only sessions begin a plain deferred transaction and never wait for writers (WAL).
    if connection.get_execution_options().get(READ_ONLY_OPTION):
        connection.exec_driver_sql("BEGIN")
    else:
        connection.exec_driver_sql("BEGIN IMMEDIATE")


READ_ONLY_OPTION = "rmc_read_only"

_engine: Engine | None = None
_session_factory: sessionmaker[Session] | None = None
_read_only_factory: sessionmaker[Session] | None = None


def configure(settings: Settings | None = None, engine: Engine | None = None) -> Engine:
    """Set the process's engine (from settings, or one given by a test) and return it."""
    global _engine, _session_factory, _read_only_factory  # noqa: PLW0603
    if engine is None:
        engine = make_engine((settings or load_settings()).database_url)
    _engine = engine
    _session_factory = sessionmaker(bind=engine, expire_on_commit=False)
    _read_only_factory = sessionmaker(
        bind=engine.execution_options(**{READ_ONLY_OPTION: True}), expire_on_commit=False
    )
    return engine


def is_configured_for(database_url: str) -> bool:
    """True when the process's engine already points at ``database_url``."""
    return _engine is not None and (
        _engine.url.render_as_string(hide_password=False) == database_url
    )


def get_engine() -> Engine:
    """The process's engine, configured from the environment on first use."""
    if _engine is None:
        return configure()
    return _engine


@contextmanager
def session_scope(*, read_only: bool = False) -> Iterator[Session]:
    """A session in one transaction: commit on success, roll back on any exception.

    ``read_only`` sessions (pages, reports) never wait behind a writer on SQLite.
    """
    if _session_factory is None:
        configure()
    factory = _read_only_factory if read_only else _session_factory
    if factory is None:  # pragma: no cover - configure() always sets both
        raise RuntimeError("database is not configured")
    session = factory()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()
