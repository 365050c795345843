"""The command line, run as a newcomer runs it: ``python -m rmc_outreach ...`` in a subprocess."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from sqlalchemy import select

from rmc_outreach.config import PROJECT_ROOT, Settings
from rmc_outreach.db import session_scope
from rmc_outreach.models import AuditEvent, User


def run_cli(settings: Settings, *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    """Run the CLI against the test database and return the finished process."""
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in ("DATABASE_URL", "REDIS_URL", "RMC_MODE")
    }
    env.update(
        DATABASE_URL=settings.database_url,
        RMC_VAR_DIR=str(settings.var_dir),
        SECRET_KEY=settings.secret_key,
    )
    return subprocess.run(
        [sys.executable, "-m", "rmc_outreach", *args],
        input=stdin,
        capture_output=True,
        text=True,
        env=env,
        cwd=PROJECT_ROOT,
        timeout=120,
        check=False,
    )


def test_init_db_on_a_migrated_database_reports_success(settings: Settings) -> None:
    result = run_cli(settings, "init-db")
    assert result.returncode == 0, result.stderr
    assert "is at the newest schema" in result.stdout


def test_create_user_reads_the_password_from_stdin_and_never_prints_it(settings: Settings) -> None:
    result = run_cli(
        settings,
        "create-user",
        "--username",
        "super1",
        "--role",
        "supervisor",
        "--password-stdin",
        stdin="a long enough password\n",
    )
    assert result.returncode == 0, result.stderr
    assert "a long enough password" not in result.stdout + result.stderr
    with session_scope() as session:
        assert session.scalars(select(User.username)).all() == ["super1"]
        assert session.scalars(select(AuditEvent.action)).all() == ["user.create"]


def test_create_user_with_a_weak_password_fails_with_a_reason(settings: Settings) -> None:
    result = run_cli(
        settings,
        "create-user",
        "--username",
        "h1",
        "--role",
        "handler",
        "--password-stdin",
        stdin="short\n",
    )
    assert result.returncode == 2
    assert "password must be at least 12 characters" in result.stderr


def test_invalid_configuration_exits_78_naming_the_setting(tmp_path: Path) -> None:
    env = dict(os.environ, RMC_VAR_DIR=str(tmp_path), PORT="not-a-port")
    env.pop("DATABASE_URL", None)
    result = subprocess.run(
        [sys.executable, "-m", "rmc_outreach", "check-config"],
        capture_output=True,
        text=True,
        env=env,
        cwd=PROJECT_ROOT,
        timeout=60,
        check=False,
    )
    assert result.returncode == 78
    assert "PORT must be a whole number" in result.stderr
