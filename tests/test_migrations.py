"""The models and the Alembic migrations describe the same schema, on every backend."""

from __future__ import annotations

import os
import warnings
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Engine, inspect, text

from rmc_outreach.db import Base, make_engine
from rmc_outreach.migrate import alembic_config, upgrade_to_head
from tests.conftest import _create_postgres_database


def test_autogenerate_finds_no_difference_between_models_and_migrations(database: Engine) -> None:
    with database.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        differences = compare_metadata(context, Base.metadata)
    assert differences == []


def test_every_model_table_is_created_by_the_migrations(database: Engine) -> None:
    tables = set(inspect(database).get_table_names())
    assert set(Base.metadata.tables) <= tables
    assert "alembic_version" in tables


def test_upgrading_an_up_to_date_database_changes_nothing(database: Engine) -> None:
    before = set(inspect(database).get_table_names())
    upgrade_to_head(database)
    assert set(inspect(database).get_table_names()) == before


def test_dispatch_index_covers_status_priority_and_due_time(database: Engine) -> None:
    indexes = {
        index["name"]: index["column_names"] for index in inspect(database).get_indexes("referral")
    }
    assert indexes["ix_referral_dispatch"] == ["status", "priority", "next_action_at"]


def test_a_read_only_session_reads_while_a_writer_holds_its_transaction(database: Engine) -> None:
    from sqlalchemy import func, select

    from rmc_outreach.db import session_scope
    from rmc_outreach.models import User

    with session_scope() as writer:
        writer.add(User(username="w", display_name="W", password_hash="x", role="admin"))
        writer.flush()  # the writer now holds the write lock until it commits
        with session_scope(read_only=True) as reader:
            assert reader.scalar(select(func.count()).select_from(User)) == 0


def test_the_migrations_have_exactly_one_head() -> None:
    from alembic.script import ScriptDirectory

    from rmc_outreach.migrate import alembic_config

    assert len(ScriptDirectory.from_config(alembic_config()).get_heads()) == 1


@pytest.fixture
def fresh_engine(backend: str, tmp_path: Path) -> Iterator[Engine]:
    """An engine on a new, empty database of the backend (not migrated), dropped after."""
    if backend == "sqlite":
        engine = make_engine(f"sqlite:///{tmp_path / 'fresh.sqlite3'}")
        yield engine
        engine.dispose()
        return
    try:
        url, admin_engine = _create_postgres_database()
    except Exception as error:
        if os.environ.get("RMC_TEST_REQUIRE_POSTGRES") == "1":
            raise
        pytest.skip(f"PostgreSQL not reachable ({type(error).__name__})")
    engine = make_engine(url)
    yield engine
    engine.dispose()
    with admin_engine.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{engine.url.database}" WITH (FORCE)'))
    admin_engine.dispose()


def _migrate(engine: Engine, revision: str, *, down: bool = False) -> None:
    config = alembic_config(engine)
    with engine.begin() as connection, warnings.catch_warnings():
        warnings.filterwarnings(
            "ignore", "Skipped unsupported reflection of expression-based index"
        )
        config.attributes["connection"] = connection
        (command.downgrade if down else command.upgrade)(config, revision)


def _patient_columns_and_indexes(engine: Engine) -> tuple[set[str], set[str]]:
    columns = {column["name"] for column in inspect(engine).get_columns("patient")}
    with engine.connect() as connection:
        if engine.dialect.name == "sqlite":
            query = "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'patient'"
        else:
            query = "SELECT indexname FROM pg_indexes WHERE tablename = 'patient'"
        indexes = set(connection.execute(text(query)).scalars())
    return columns, indexes


def test_the_landline_only_migration_keeps_stored_patients_and_their_indexes_both_ways(
    fresh_engine: Engine,
) -> None:
    _migrate(fresh_engine, "0013")
    with fresh_engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO patient (nhs_number, given_name, family_name, date_of_birth, "
                "created_at, updated_at) VALUES ('9990000018', 'Amara', 'Okafor', :born, "
                ":moment, :moment)"
            ),
            {"born": date(1961, 3, 14), "moment": datetime(2026, 11, 27, 12, tzinfo=UTC)},
        )
    _, indexes_before = _patient_columns_and_indexes(fresh_engine)
    assert "ix_patient_name_search" in indexes_before

    _migrate(fresh_engine, "0014")
    columns, indexes = _patient_columns_and_indexes(fresh_engine)
    assert "landline_only" in columns
    assert indexes == indexes_before  # SQLite did not copy the table (and drop the expressions)
    with fresh_engine.connect() as connection:
        stored = connection.execute(text("SELECT landline_only FROM patient")).scalar_one()
    assert stored in (False, 0)

    _migrate(fresh_engine, "0013", down=True)
    columns, indexes = _patient_columns_and_indexes(fresh_engine)
    assert "landline_only" not in columns
    assert indexes == indexes_before
    with fresh_engine.connect() as connection:
        assert connection.execute(text("SELECT count(*) FROM patient")).scalar_one() == 1
