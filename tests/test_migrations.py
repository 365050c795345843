"""The models and the Alembic migrations describe the same schema, on every backend."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Engine, inspect

from rmc_outreach.db import Base
from rmc_outreach.migrate import upgrade_to_head


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
