"""The command line, run as a newcomer runs it: ``python -m rmc_outreach ...`` in a subprocess."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from sqlalchemy import func, select

from rmc_outreach.config import PROJECT_ROOT, Settings
from rmc_outreach.db import session_scope
from rmc_outreach.models import AuditEvent, Handler, HandlerState, Referral, Role, User


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


def test_an_admin_and_a_handler_with_a_console_are_created_from_the_command_line(
    settings: Settings,
) -> None:
    admin = run_cli(
        settings, "create-user", "--username", "admin1", "--role", "admin", "--password-stdin",
        stdin="an admin password here\n",
    )  # fmt: skip
    handler = run_cli(
        settings, "create-user", "--username", "hana", "--display-name", "Hana Ali",
        "--role", "handler", "--endpoint", "client:hana", "--password-stdin",
        stdin="a handler password here\n",
    )  # fmt: skip
    wrong = run_cli(
        settings, "create-user", "--username", "mo", "--role", "manager",
        "--endpoint", "client:mo", "--password-stdin", stdin="a manager password\n",
    )  # fmt: skip

    assert admin.returncode == 0 and "with role admin" in admin.stdout, admin.stderr
    assert handler.returncode == 0, handler.stderr
    assert wrong.returncode == 2 and "handler role only" in wrong.stderr
    with session_scope() as session:
        user = session.scalar(select(User).where(User.username == "hana"))
        record = session.scalar(select(Handler).where(Handler.endpoint == "client:hana"))
        assert user is not None and record is not None
        assert (record.user_id, record.display_name) == (user.id, "Hana Ali")
        assert f"/console/{record.id}" in handler.stdout


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


def _write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def test_import_referrals_json_reports_counts_and_exits_0_when_every_row_is_accepted(
    settings: Settings, tmp_path: Path
) -> None:
    from tests.intake.factories import worklist_csv, worklist_row

    worklist = _write(tmp_path / "ok.csv", worklist_csv([worklist_row(1), worklist_row(2)]))
    result = run_cli(settings, "import-referrals", str(worklist), "--json")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert (report["imported"], report["updated"], report["unchanged"]) == (2, 0, 0)
    assert report["rejected"] == []
    assert report["file_errors"] == []
    again = json.loads(run_cli(settings, "import-referrals", str(worklist), "--json").stdout)
    assert (again["imported"], again["unchanged"]) == (0, 2)


def test_import_referrals_exits_1_and_names_row_and_column_of_a_bad_row(
    settings: Settings, tmp_path: Path
) -> None:
    from tests.intake.factories import worklist_csv, worklist_row

    rows = [worklist_row(1), worklist_row(2, nhs_number="9990000019")]
    worklist = _write(tmp_path / "some-bad.csv", worklist_csv(rows))
    result = run_cli(settings, "import-referrals", str(worklist), "--json")
    assert result.returncode == 1, result.stderr
    report = json.loads(result.stdout)
    assert report["imported"] == 1
    assert [(r["row"], r["column"]) for r in report["rejected"]] == [(3, "nhs_number")]
    assert "9990000019" not in result.stdout


def test_import_referrals_exits_2_for_a_rejected_or_missing_file(
    settings: Settings, tmp_path: Path
) -> None:
    empty = _write(tmp_path / "empty.csv", b"")
    result = run_cli(settings, "import-referrals", str(empty), "--json")
    assert result.returncode == 2
    assert json.loads(result.stdout)["file_errors"]
    missing = run_cli(settings, "import-referrals", str(tmp_path / "nope.csv"), "--json")
    assert missing.returncode == 2
    assert "cannot read" in json.loads(missing.stdout)["file_errors"][0]


def test_seed_demo_imports_synthetic_referrals_with_no_rejections(settings: Settings) -> None:
    result = run_cli(settings, "seed-demo", "--referrals", "40", "--seed", "3")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Imported 40 new" in result.stdout
    with session_scope() as session:
        assert session.scalar(select(func.count()).select_from(Referral)) == 40


def test_seed_demo_creates_simulated_handlers_once(settings: Settings) -> None:
    first = run_cli(settings, "seed-demo", "--referrals", "5", "--handlers", "3")
    assert first.returncode == 0, first.stdout + first.stderr
    assert "Simulated handlers: 3 created" in first.stdout
    again = run_cli(settings, "seed-demo", "--referrals", "5", "--handlers", "4")
    assert "Simulated handlers: 1 created" in again.stdout
    with session_scope() as session:
        handlers = session.scalars(select(Handler).order_by(Handler.id)).all()
        assert [h.endpoint for h in handlers] == [f"client:sim_handler_{n}" for n in range(1, 5)]
        assert [h.display_name for h in handlers] == [f"Handler {n}" for n in range(1, 5)]
        assert all(h.state is HandlerState.OFFLINE for h in handlers)
        # Each linked to a handler-role user named after its identity.
        users = {u.id: u for u in session.scalars(select(User))}
        assert [
            (users[h.user_id or -1].username, users[h.user_id or -1].role) for h in handlers
        ] == [(f"sim_handler_{n}", Role.HANDLER) for n in range(1, 5)]
    refused = run_cli(settings, "seed-demo", "--referrals", "5", "--handlers", "-1")
    assert refused.returncode == 2


def test_outreach_pause_resume_and_status_per_priority(settings: Settings) -> None:
    paused = run_cli(settings, "outreach", "pause", "--scope", "routine", "--reason", "clinic full")
    status = run_cli(settings, "outreach", "status")
    no_reason = run_cli(settings, "outreach", "pause", "--scope", "urgent")
    bad_scope = run_cli(settings, "outreach", "pause", "--scope", "soon", "--reason", "x")
    resumed = run_cli(settings, "outreach", "resume", "--scope", "routine")

    assert paused.returncode == 0 and "paused: routine since" in paused.stdout
    assert "(clinic full)" in status.stdout
    assert no_reason.returncode == 2 and "reason" in no_reason.stderr
    assert bad_scope.returncode == 2 and "all, 2ww, urgent, routine" in bad_scope.stderr
    assert resumed.returncode == 0 and "running for every priority" in resumed.stdout
    with session_scope() as session:
        actions = session.scalars(select(AuditEvent.action).order_by(AuditEvent.id)).all()
        assert actions == ["outreach.pause", "outreach.resume"]
