"""Imports in the browser (/imports): upload, the worker's import, progress, result, error CSV.

The import task is run the way a worker runs it, by calling it in-process after the upload's
transaction has committed (``tests/celery_isolation.py``: nothing is published). The app's
enqueue function is replaced by one that records the job ids it was given, or one that fails
as an unreachable broker does.
"""

from __future__ import annotations

import csv
import io
import logging
import stat
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from flask import Flask
from kombu.exceptions import OperationalError
from sqlalchemy import Engine, func, select, update

from admin_ui.imports import ENQUEUE_IMPORT_EXTENSION
from rmc_outreach import clock, import_jobs
from rmc_outreach.config import Settings
from rmc_outreach.db import session_scope
from rmc_outreach.import_history import ImportJobView, ImportResult, errors_csv
from rmc_outreach.models import (
    AuditEvent,
    ImportJob,
    ImportJobState,
    ImportStatus,
    Patient,
    Referral,
    Role,
)
from tests.admin_ui.conftest import StaffClient
from tests.intake.factories import worklist_csv, worklist_row

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
XSS_NAME = "<script>alert('name')</script>"
XSS_FAMILY = '"><img src=x onerror=alert(1)>'


@pytest.fixture(autouse=True)
def frozen_clock() -> Iterator[None]:
    """Intake's date rules are judged at a fixed moment (see tests/intake/conftest.py)."""
    with clock.frozen_at(NOW):
        yield


@pytest.fixture
def queued(app: Flask) -> list[int]:
    """The job ids the app queued (nothing is published)."""
    sent: list[int] = []
    app.extensions[ENQUEUE_IMPORT_EXTENSION] = sent.append
    return sent


@pytest.fixture
def supervisor(staff_client: Callable[[Role], StaffClient]) -> StaffClient:
    return staff_client(Role.SUPERVISOR)


def upload(client: StaffClient, data: bytes, filename: str = "worklist.csv") -> int:
    """Upload a file; returns the new job's id (from the redirect)."""
    response = client.post(
        "/imports",
        data={"worklist": (io.BytesIO(data), filename)},
        content_type="multipart/form-data",
    )
    assert response.status_code == 303, response.get_data(as_text=True)[:500]
    location = response.headers["Location"]
    assert location.startswith("/imports/")
    return int(location.rsplit("/", 1)[1])


def run_worker(job_id: int, settings: Settings) -> ImportJobState | None:
    """What the worker's task does with a job id."""
    return import_jobs.run_import_job(job_id, settings)


def count(model: type) -> int:
    with session_scope(read_only=True) as session:
        return session.scalar(select(func.count()).select_from(model)) or 0


def audit_actions() -> list[tuple[str, str | None, int | None, dict[str, object]]]:
    with session_scope(read_only=True) as session:
        return [
            (event.action, event.object_id, event.actor_user_id, event.detail)
            for event in session.scalars(select(AuditEvent).order_by(AuditEvent.id))
        ]


def good_file(rows: int = 3) -> bytes:
    return worklist_csv([worklist_row(index) for index in range(rows)])


def file_with_bad_rows() -> bytes:
    return worklist_csv(
        [
            worklist_row(0),
            worklist_row(1, nhs_number="9990001234", date_of_birth="31/02/1970"),
            worklist_row(2),
            worklist_row(3, priority="whenever"),
        ]
    )


def test_a_good_file_is_queued_then_imported_by_the_worker_and_its_result_shown(
    database: Engine, supervisor: StaffClient, queued: list[int], web_settings: Settings
) -> None:
    job_id = upload(supervisor, good_file(3))

    assert queued == [job_id]
    assert count(Referral) == 0
    waiting = supervisor.get(f"/imports/{job_id}").get_data(as_text=True)
    assert "Waiting for a worker" in waiting
    assert "<progress" in waiting
    assert f'href="/imports/{job_id}" id="import-reload"' in waiting
    assert "imports.js" in waiting
    assert "http-equiv" not in waiting
    assert supervisor.get(f"/api/imports/{job_id}").get_json()["state"] == "queued"

    assert run_worker(job_id, web_settings) is ImportJobState.FINISHED

    assert count(Referral) == 3
    progress = supervisor.get(f"/api/imports/{job_id}").get_json()
    assert progress["final"] is True
    assert progress["state"] == "finished"
    assert progress["rows_done"] == progress["rows_total"] == 3
    assert progress["result"] == {
        "status": "completed",
        "imported": 3,
        "updated": 0,
        "unchanged": 0,
        "rejected_rows": 0,
    }
    page = supervisor.get(f"/imports/{job_id}").get_data(as_text=True)
    assert "Every row was imported" in page
    assert '<td class="numeric" data-figure="imported">3</td>' in page
    assert "<progress" not in page
    assert "imports.js" not in page


def test_the_import_task_runs_the_job_and_a_replayed_task_does_nothing(
    database: Engine, supervisor: StaffClient, queued: list[int], web_settings: Settings
) -> None:
    from workers.runtime import configure_runtime, reset_runtime
    from workers.tasks import run_import

    job_id = upload(supervisor, good_file(2))
    configure_runtime(web_settings, provider=object())  # type: ignore[arg-type]
    try:
        assert run_import(job_id) == "finished"
        assert run_import(job_id) is None
    finally:
        reset_runtime()
    assert count(Referral) == 2


def test_the_stored_upload_is_readable_by_its_owner_only_and_deleted_once_imported(
    database: Engine, supervisor: StaffClient, queued: list[int], web_settings: Settings
) -> None:
    job_id = upload(supervisor, good_file(1))
    with session_scope(read_only=True) as session:
        job = session.get(ImportJob, job_id)
        assert job is not None
        stored = import_jobs.upload_folder(web_settings.var_dir) / job.stored_name
    assert stored.read_bytes() == good_file(1)
    assert stat.S_IMODE(stored.stat().st_mode) == 0o600

    run_worker(job_id, web_settings)

    assert not stored.exists()


def test_progress_is_recorded_as_rows_are_checked_and_shown_on_the_page_and_in_json(
    database: Engine,
    supervisor: StaffClient,
    queued: list[int],
    web_settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    job_id = upload(supervisor, good_file(5))
    seen: list[tuple[int, int | None, str]] = []
    original = import_jobs._ProgressRecorder.__call__

    def record_and_look(recorder: import_jobs._ProgressRecorder, done: int, total: int) -> None:
        original(recorder, done, total)
        progress = supervisor.get(f"/api/imports/{job_id}").get_json()
        seen.append((progress["rows_done"], progress["rows_total"], progress["phase"]))

    monkeypatch.setattr("rmc_outreach.intake.importer.PROGRESS_EVERY_ROWS", 2)
    monkeypatch.setattr(import_jobs, "PROGRESS_INTERVAL", timedelta(0))
    monkeypatch.setattr(import_jobs._ProgressRecorder, "__call__", record_and_look)

    run_worker(job_id, web_settings)

    assert seen == [
        (0, 5, "checking"),
        (2, 5, "checking"),
        (4, 5, "checking"),
        (5, 5, "saving"),
    ]


def test_a_running_import_shows_rows_checked_of_the_total_without_javascript(
    database: Engine, supervisor: StaffClient, queued: list[int]
) -> None:
    job_id = upload(supervisor, good_file(1))
    with session_scope() as session:
        session.execute(
            update(ImportJob)
            .where(ImportJob.id == job_id)
            .values(state=ImportJobState.RUNNING, rows_done=1200, rows_total=4000)
        )

    page = supervisor.get(f"/imports/{job_id}").get_data(as_text=True)
    progress = supervisor.get(f"/api/imports/{job_id}").get_json()

    assert "Checking rows: <span" in page
    assert "1,200 of 4,000 rows checked" in page
    assert 'max="4000" value="1200"' in page
    assert progress["percent"] == 30
    assert progress["phase"] == "checking"


def test_rejected_rows_are_listed_by_row_column_and_reason_without_the_values(
    database: Engine, supervisor: StaffClient, queued: list[int], web_settings: Settings
) -> None:
    job_id = upload(supervisor, file_with_bad_rows())
    run_worker(job_id, web_settings)

    page = supervisor.get(f"/imports/{job_id}").get_data(as_text=True)

    assert count(Referral) == 2
    assert "Imported, with rejected rows" in page
    table = page.split('class="data-table rejected-rows"', 1)[1].split("</table>", 1)[0]
    assert '<td class="numeric">3</td><td class="mono">date_of_birth</td>' in table
    assert '<td class="numeric">3</td><td class="mono">nhs_number</td>' in table
    assert '<td class="numeric">5</td><td class="mono">priority</td>' in table
    for value in ("9990001234", "31/02/1970", "whenever", "Okafor", "Amara"):
        assert value not in page
    assert f'href="/imports/{job_id}/errors.csv"' in page


def test_the_error_csv_lists_row_column_reason_and_its_download_is_audited(
    database: Engine, supervisor: StaffClient, queued: list[int], web_settings: Settings
) -> None:
    job_id = upload(supervisor, file_with_bad_rows())
    run_worker(job_id, web_settings)

    response = supervisor.get(f"/imports/{job_id}/errors.csv")

    assert response.status_code == 200
    assert response.mimetype == "text/csv"
    assert f'filename="import-{job_id}-errors.csv"' in response.headers["Content-Disposition"]
    rows = list(csv.reader(io.StringIO(response.get_data(as_text=True))))
    assert rows[0] == ["row", "column", "reason"]
    assert [(row, column) for row, column, _ in rows[1:]] == [
        ("3", "date_of_birth"),
        ("3", "nhs_number"),
        ("5", "priority"),
    ]
    assert "9990001234" not in response.get_data(as_text=True)
    downloads = [event for event in audit_actions() if event[0] == "import.errors_download"]
    assert [(event[1], event[3]) for event in downloads] == [(str(job_id), {})]


def test_error_csv_cells_a_spreadsheet_would_run_as_formulas_are_neutralised() -> None:
    dangerous = ['=HYPERLINK("x")', "+1", "-1", "@SUM(A1)", "\tTAB", "\rCR"]
    view = ImportJobView(
        id=1,
        state=ImportJobState.FINISHED,
        error_reason=None,
        filename="w.csv",
        size_bytes=1,
        uploaded_by="someone",
        created_at=NOW,
        started_at=NOW,
        finished_at=NOW,
        rows_total=1,
        rows_done=1,
        result=ImportResult(
            status=ImportStatus.COMPLETED_WITH_REJECTIONS,
            imported=0,
            updated=0,
            unchanged=0,
            rejected_rows=len(dangerous),
            rejected=[
                {"row": index + 2, "column": cell, "reason": cell}
                for index, cell in enumerate(dangerous)
            ],
            warnings=[],
            file_errors=["=file"],
            truncated=None,
        ),
    )

    rows = list(csv.reader(io.StringIO(errors_csv(view), newline="")))

    cells = [cell for row in rows[1:] for cell in row if cell]
    assert cells
    assert all(not cell.startswith(("=", "+", "-", "@", "\t", "\r")) for cell in cells)
    assert rows[1] == ["", "", "file rejected: =file"]
    assert rows[2] == ["2", '\'=HYPERLINK("x")', '\'=HYPERLINK("x")']


def test_a_rejected_file_shows_why_and_its_error_csv_says_so(
    database: Engine, supervisor: StaffClient, queued: list[int], web_settings: Settings
) -> None:
    job_id = upload(supervisor, b"name;age\nAmara;64\n", filename="wrong.csv")
    run_worker(job_id, web_settings)

    page = supervisor.get(f"/imports/{job_id}").get_data(as_text=True)
    errors = supervisor.get(f"/imports/{job_id}/errors.csv").get_data(as_text=True)

    assert "The file was rejected: nothing was imported" in page
    assert "separated by commas, this file uses semicolons" in page
    assert "file rejected: columns must be separated by commas" in errors
    assert "Amara" not in page + errors


def test_the_same_file_imported_twice_creates_no_duplicate_referrals(
    database: Engine, supervisor: StaffClient, queued: list[int], web_settings: Settings
) -> None:
    data = good_file(4)
    first = upload(supervisor, data)
    run_worker(first, web_settings)
    second = upload(supervisor, data, filename="worklist again.csv")
    run_worker(second, web_settings)

    progress = supervisor.get(f"/api/imports/{second}").get_json()
    page = supervisor.get(f"/imports/{second}").get_data(as_text=True)

    assert count(Referral) == 4
    assert count(Patient) == 4
    assert progress["result"]["imported"] == 0
    assert progress["result"]["unchanged"] == 4
    assert f'href="/imports/{first}">import {first}</a>' in page
    assert "nothing is duplicated" in page


def test_the_history_lists_uploads_newest_first_with_their_outcome(
    database: Engine, supervisor: StaffClient, queued: list[int], web_settings: Settings
) -> None:
    first = upload(supervisor, good_file(2), filename="monday.csv")
    run_worker(first, web_settings)
    second = upload(supervisor, file_with_bad_rows(), filename="tuesday.csv")

    page = supervisor.get("/imports").get_data(as_text=True)

    rows = page.split('<tr data-import-job="')[1:]
    assert [int(row.split('"', 1)[0]) for row in rows] == [second, first]
    assert "tuesday.csv" in rows[0]
    assert "Waiting for a worker" in rows[0]
    assert "monday.csv" in rows[1]
    assert "Every row was imported" in rows[1]
    assert "Test supervisor" in rows[1]


def test_an_upload_is_audited_with_ids_size_and_hash_only(
    database: Engine, supervisor: StaffClient, queued: list[int]
) -> None:
    job_id = upload(supervisor, good_file(1), filename="Amara Okafor referrals.csv")

    uploads = [event for event in audit_actions() if event[0] == "import.upload"]

    assert len(uploads) == 1
    _, object_id, user_id, detail = uploads[0]
    assert object_id == str(job_id)
    assert user_id is not None
    assert set(detail) == {"sha256", "size_bytes"}


def test_when_the_task_queue_cannot_be_reached_the_upload_is_kept_as_not_queued(
    database: Engine,
    app: Flask,
    supervisor: StaffClient,
    web_settings: Settings,
    caplog: pytest.LogCaptureFixture,
) -> None:
    def unreachable(job_id: int) -> None:
        raise OperationalError("Error 111 connecting to 127.0.0.1:6379. Connection refused.")

    app.extensions[ENQUEUE_IMPORT_EXTENSION] = unreachable
    with caplog.at_level(logging.ERROR):
        job_id = upload(supervisor, good_file(2))

    page = supervisor.get(f"/imports/{job_id}").get_data(as_text=True)
    with session_scope(read_only=True) as session:
        job = session.get(ImportJob, job_id)
        assert job is not None
        assert (job.state, job.error_reason) == (ImportJobState.NOT_QUEUED, "broker_unreachable")
    assert "could not be reached" in page
    assert "Queue the import again" in page
    assert f"import job {job_id} could not be queued: OperationalError" in caplog.text

    sent: list[int] = []
    app.extensions[ENQUEUE_IMPORT_EXTENSION] = sent.append
    response = supervisor.post(f"/imports/{job_id}/retry")

    assert response.status_code == 303
    assert sent == [job_id]
    assert "import.requeue" in [event[0] for event in audit_actions()]
    run_worker(job_id, web_settings)
    assert count(Referral) == 2


def test_an_empty_or_missing_file_is_refused_with_the_error_tied_to_the_field(
    database: Engine, supervisor: StaffClient, queued: list[int]
) -> None:
    missing = supervisor.post("/imports", data={}, content_type="multipart/form-data")
    empty = supervisor.post(
        "/imports",
        data={"worklist": (io.BytesIO(b""), "empty.csv")},
        content_type="multipart/form-data",
    )

    assert missing.status_code == 422
    assert empty.status_code == 422
    page = empty.get_data(as_text=True)
    assert 'aria-describedby="worklist-hint worklist-error"' in page
    assert 'aria-invalid="true"' in page
    assert '<p class="field-error" id="worklist-error">The file is empty' in page
    assert queued == []
    assert count(ImportJob) == 0


def test_a_file_over_the_size_limit_is_refused_with_a_message(
    database: Engine, app: Flask, supervisor: StaffClient, queued: list[int]
) -> None:
    app.config["MAX_CONTENT_LENGTH"] = 2000

    response = supervisor.post(
        "/imports",
        data={"worklist": (io.BytesIO(b"x" * 5000), "big.csv")},
        content_type="multipart/form-data",
    )

    assert response.status_code == 413
    assert "larger than the limit" in response.get_data(as_text=True)
    assert count(ImportJob) == 0


@pytest.mark.parametrize("role", [Role.MANAGER, Role.HANDLER])
def test_managers_and_handlers_cannot_upload(
    database: Engine,
    staff_client: Callable[[Role], StaffClient],
    queued: list[int],
    role: Role,
) -> None:
    client = staff_client(role)

    response = client.post(
        "/imports",
        data={"worklist": (io.BytesIO(good_file(1)), "w.csv")},
        content_type="multipart/form-data",
    )

    assert response.status_code == 403
    assert client.get("/imports").status_code == 403
    assert count(ImportJob) == 0
    assert queued == []


def test_an_upload_without_the_csrf_token_is_refused(
    database: Engine, supervisor: StaffClient, queued: list[int]
) -> None:
    response = supervisor.post(
        "/imports",
        data={"worklist": (io.BytesIO(good_file(1)), "w.csv")},
        content_type="multipart/form-data",
        csrf=False,
    )

    assert response.status_code == 400
    assert count(ImportJob) == 0


def test_script_in_imported_names_and_the_file_name_is_rendered_inert(
    database: Engine, supervisor: StaffClient, queued: list[int], web_settings: Settings
) -> None:
    data = worklist_csv(
        [
            worklist_row(0, given_name=XSS_NAME, family_name=XSS_FAMILY),
            worklist_row(1, given_name=XSS_NAME, date_of_birth="not a date"),
        ]
    )
    job_id = upload(supervisor, data, filename="<img src=x onerror=alert(2)>.csv")
    run_worker(job_id, web_settings)

    pages = {
        "result": supervisor.get(f"/imports/{job_id}").get_data(as_text=True),
        "history": supervisor.get("/imports").get_data(as_text=True),
        "progress": supervisor.get(f"/api/imports/{job_id}").get_data(as_text=True),
        "errors": supervisor.get(f"/imports/{job_id}/errors.csv").get_data(as_text=True),
    }

    for name, text in pages.items():
        assert "<script>alert" not in text, name
        assert "<img src=x" not in text, name
        assert "onerror=alert(1)" not in text, name
    assert "&lt;img src=x onerror=alert(2)&gt;.csv" in pages["result"]
    assert "<script" not in pages["result"].split("</main>")[0]


def test_the_progress_script_is_served_by_the_app_and_pages_carry_no_inline_script(
    database: Engine, supervisor: StaffClient, queued: list[int]
) -> None:
    job_id = upload(supervisor, good_file(1))

    page = supervisor.get(f"/imports/{job_id}").get_data(as_text=True)
    script = supervisor.get("/static/imports.js")

    assert script.status_code == 200
    assert "X-Background-Refresh" in script.get_data(as_text=True)
    assert '<script src="/static/imports.js" defer></script>' in page
    assert "<script>" not in page
    assert " style=" not in page
    assert (
        "default-src 'self'"
        in supervisor.get(f"/imports/{job_id}").headers["Content-Security-Policy"]
    )


def test_a_job_whose_file_is_gone_fails_and_says_to_upload_again(
    database: Engine, supervisor: StaffClient, queued: list[int], web_settings: Settings
) -> None:
    job_id = upload(supervisor, good_file(1))
    for stored in Path(import_jobs.upload_folder(web_settings.var_dir)).iterdir():
        stored.unlink()

    assert run_worker(job_id, web_settings) is ImportJobState.FAILED

    page = supervisor.get(f"/imports/{job_id}").get_data(as_text=True)
    assert "could not be found by the worker" in page


def test_with_the_broker_down_celery_publishing_fails_fast_and_the_job_is_not_queued(
    database: Engine,
    supervisor: StaffClient,
    web_settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import time

    import workers.celery_app as celery_app_module
    from workers.celery_app import create_celery_app

    # Nothing listens on port 1: the connection is refused at once.
    down = create_celery_app(web_settings, broker_url="redis://127.0.0.1:1/0")
    monkeypatch.setattr(celery_app_module, "_app", down)

    started = time.monotonic()
    job_id = upload(supervisor, good_file(1))

    assert time.monotonic() - started < 5
    with session_scope(read_only=True) as session:
        job = session.get(ImportJob, job_id)
        assert job is not None
        assert job.state is ImportJobState.NOT_QUEUED
