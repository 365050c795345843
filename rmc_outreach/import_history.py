"""Reading uploaded imports for people: a job's progress and result, the history, the error CSV.

Nothing here holds personal data: the importer's report names rows, columns and reasons, never
a cell's value, and the job keeps only the file's name, size and hash. The error CSV is still
neutralised (a cell a spreadsheet would run as a formula gets a leading apostrophe), because
file names and reasons pass through it.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from rmc_outreach.audit import record_audit_event
from rmc_outreach.metrics.export import neutralise
from rmc_outreach.models import ImportJob, ImportJobState, ImportStatus, ReferralImport, User

ERRORS_DOWNLOAD_ACTION = "import.errors_download"
HISTORY_PAGE_SIZE = 50

PHASE_TEXT = {
    "queued": "Waiting for a worker to start the import",
    "not_queued": "Not queued: the import service could not be reached",
    "reading": "Reading the file",
    "checking": "Checking rows",
    "saving": "Saving the referrals",
    "finished": "Finished",
    "failed": "Failed",
}
FAILURE_TEXT = {
    "broker_unreachable": (
        "The import service (the task queue) could not be reached, so the file was not queued. "
        "It is kept: queue it again when the service is back."
    ),
    "file_missing": "The uploaded file could not be found by the worker. Upload it again.",
    "import_failed": "The import failed and nothing was written. Upload the file again.",
}
RESULT_TEXT = {
    ImportStatus.COMPLETED: "Every row was imported",
    ImportStatus.COMPLETED_WITH_REJECTIONS: "Imported, with rejected rows",
    ImportStatus.REJECTED: "The file was rejected: nothing was imported",
    ImportStatus.FAILED: "The import failed: nothing was imported",
    ImportStatus.RUNNING: "Running",
}


@dataclass(frozen=True)
class ImportResult:
    """What the importer did with the file (from its ``referral_import`` run)."""

    status: ImportStatus
    imported: int
    updated: int
    unchanged: int
    rejected_rows: int
    rejected: list[dict[str, Any]]
    warnings: list[dict[str, Any]]
    file_errors: list[str]
    truncated: dict[str, int] | None

    @property
    def text(self) -> str:
        """The outcome in words."""
        return RESULT_TEXT[self.status]


@dataclass(frozen=True)
class ImportJobView:
    """One upload as pages show it."""

    id: int
    state: ImportJobState
    error_reason: str | None
    filename: str
    size_bytes: int
    uploaded_by: str
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    rows_total: int | None
    rows_done: int
    result: ImportResult | None = None
    earlier_upload_ids: list[int] = field(default_factory=list)

    @property
    def final(self) -> bool:
        """True once the job will not change again."""
        return self.state in (ImportJobState.FINISHED, ImportJobState.FAILED)

    @property
    def phase(self) -> str:
        """Where the job is: queued, not_queued, reading, checking, saving, finished, failed."""
        if self.state is not ImportJobState.RUNNING:
            return self.state.value
        if self.rows_total is None:
            return "reading"
        return "checking" if self.rows_done < self.rows_total else "saving"

    @property
    def phase_text(self) -> str:
        """The phase in words."""
        return PHASE_TEXT[self.phase]

    @property
    def failure_text(self) -> str | None:
        """Why the job failed or was not queued, in words (None when it did not)."""
        return FAILURE_TEXT.get(self.error_reason or "")

    @property
    def percent(self) -> int | None:
        """Rows checked as a whole percentage (None until the rows are counted)."""
        if self.final:
            return 100
        if not self.rows_total:
            return None
        return min(100, self.rows_done * 100 // self.rows_total)

    def progress_json(self) -> dict[str, Any]:
        """The job's progress for the page's poll: ids, counts and states only."""
        result = self.result
        return {
            "id": self.id,
            "state": self.state.value,
            "phase": self.phase,
            "phase_text": self.phase_text,
            "rows_done": self.rows_done,
            "rows_total": self.rows_total,
            "percent": self.percent,
            "final": self.final,
            "result": None
            if result is None
            else {
                "status": result.status.value,
                "imported": result.imported,
                "updated": result.updated,
                "unchanged": result.unchanged,
                "rejected_rows": result.rejected_rows,
            },
        }


def _result(run: ReferralImport | None) -> ImportResult | None:
    if run is None:
        return None
    report = run.report or {}
    return ImportResult(
        status=ImportStatus(run.status),
        imported=run.imported_count,
        updated=run.updated_count,
        unchanged=run.unchanged_count,
        rejected_rows=run.rejected_count,
        rejected=list(report.get("rejected", [])),
        warnings=list(report.get("warnings", [])),
        file_errors=list(report.get("file_errors", [])),
        truncated=report.get("truncated"),
    )


def _view(
    job: ImportJob, uploaded_by: str | None, run: ReferralImport | None, earlier: list[int]
) -> ImportJobView:
    return ImportJobView(
        id=job.id,
        state=ImportJobState(job.state),
        error_reason=job.error_reason,
        filename=job.filename,
        size_bytes=job.size_bytes,
        uploaded_by=uploaded_by or job.actor_label,
        created_at=job.created_at,
        started_at=job.started_at,
        finished_at=job.finished_at,
        rows_total=job.rows_total,
        rows_done=job.rows_done,
        result=_result(run),
        earlier_upload_ids=earlier,
    )


def _with_people_and_runs() -> Any:
    return (
        select(ImportJob, User.display_name, ReferralImport)
        .outerjoin(User, User.id == ImportJob.uploaded_by_user_id)
        .outerjoin(ReferralImport, ReferralImport.id == ImportJob.referral_import_id)
    )


def job_view(session: Session, job_id: int) -> ImportJobView | None:
    """One upload with its result and earlier uploads of the same file, or None."""
    row = session.execute(_with_people_and_runs().where(ImportJob.id == job_id)).first()
    if row is None:
        return None
    job, uploaded_by, run = row
    earlier = list(
        session.scalars(
            select(ImportJob.id)
            .where(ImportJob.sha256 == job.sha256, ImportJob.id < job.id)
            .order_by(ImportJob.id.desc())
            .limit(5)
        )
    )
    return _view(job, uploaded_by, run, earlier)


def job_history(session: Session, *, limit: int = HISTORY_PAGE_SIZE) -> list[ImportJobView]:
    """The latest uploads, newest first."""
    rows = session.execute(_with_people_and_runs().order_by(ImportJob.id.desc()).limit(limit)).all()
    return [_view(job, uploaded_by, run, []) for job, uploaded_by, run in rows]


def errors_csv(view: ImportJobView) -> str:
    """The rejected rows (row, column, reason) and file errors as CSV, every cell neutralised."""
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(("row", "column", "reason"))
    result = view.result
    if result is not None:
        for error in result.file_errors:
            writer.writerow(("", "", neutralise(f"file rejected: {error}")))
        for problem in result.rejected:
            writer.writerow(
                (
                    neutralise(str(problem.get("row", ""))),
                    neutralise(str(problem.get("column") or "")),
                    neutralise(str(problem.get("reason", ""))),
                )
            )
        if result.truncated:
            writer.writerow(
                (
                    "",
                    "",
                    f"only the first {len(result.rejected)} of "
                    f"{result.truncated['rejected']} problems are kept",
                )
            )
    return buffer.getvalue()


def record_errors_download(
    session: Session, job_id: int, *, actor_label: str, actor_user_id: int | None
) -> None:
    """Audit a download of a job's error CSV."""
    record_audit_event(
        session,
        actor_label=actor_label,
        actor_user_id=actor_user_id,
        action=ERRORS_DOWNLOAD_ACTION,
        outcome="success",
        object_type="import_job",
        object_id=job_id,
    )
