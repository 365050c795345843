"""Schema migrations: Alembic is the only way the schema is made or changed."""

from __future__ import annotations

import warnings

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine

from rmc_outreach.config import PROJECT_ROOT


def alembic_config(engine: Engine | None = None) -> Config:
    """The project's Alembic configuration, optionally bound to an engine's URL."""
    config = Config(str(PROJECT_ROOT / "alembic.ini"))
    config.set_main_option("script_location", str(PROJECT_ROOT / "migrations"))
    config.attributes["configure_logging"] = False
    if engine is not None:
        config.set_main_option(
            "sqlalchemy.url", engine.url.render_as_string(hide_password=False).replace("%", "%%")
        )
    return config


def upgrade_to_head(engine: Engine) -> None:
    """Bring the database to the newest schema (a no-op when it is already there)."""
    config = alembic_config(engine)
    with engine.begin() as connection, warnings.catch_warnings():
        # SQLite batch migrations reflect related tables; SQLAlchemy cannot reflect the patient
        # name indexes (expressions) and says so. Only the batch's own table is rebuilt, so
        # nothing is lost (tests/test_migrations.py compares the result with the models).
        warnings.filterwarnings(
            "ignore", "Skipped unsupported reflection of expression-based index"
        )
        config.attributes["connection"] = connection
        command.upgrade(config, "head")
