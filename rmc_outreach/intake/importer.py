"""``import_worklist``: read, validate and store an e-RS worklist, and record the run.

Every run is recorded in ``referral_import`` and ``audit_event``, without personal data. The
referral writes and the run's record share one transaction, so a failure leaves nothing
half-imported; a rejected file or a failed run is recorded in a transaction of its own.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import PurePath
from zoneinfo import ZoneInfo

from rmc_outreach import clock
from rmc_outreach.config import Settings
from rmc_outreach.db import session_scope
from rmc_outreach.intake.reading import WINDOWS_1252_WARNING, FileRejected, decode, read_table
from rmc_outreach.intake.records import PATIENT_OPTIONAL_FIELDS
from rmc_outreach.intake.report import ImportReport, RowWarning
from rmc_outreach.intake.upsert import upsert_records
from rmc_outreach.intake.validation import RowContext, ValidatedFile, validate_rows
from rmc_outreach.models import AuditEvent, ImportStatus, ReferralImport

logger = logging.getLogger(__name__)

AUDIT_ACTION = "referrals.import"
# The stored copy of a report keeps at most this many rejected rows and warnings.
STORED_REPORT_LIMIT = 5000
# How often (in rows) a progress callback hears how far checking has got.
PROGRESS_EVERY_ROWS = 500
# ``progress(rows_checked, rows_in_file)``: called while rows are checked, before anything is
# written (the writes are one transaction, so a caller may record progress in its own).
Progress = Callable[[int, int], None]
_AUDIT_OUTCOMES = {
    ImportStatus.COMPLETED: "completed",
    ImportStatus.COMPLETED_WITH_REJECTIONS: "partial",
    ImportStatus.REJECTED: "rejected",
    ImportStatus.FAILED: "failed",
}


class _Run:
    """Facts about one run that every record of it shares."""

    def __init__(self, data: bytes, filename: str, actor_label: str) -> None:
        self.filename = (PurePath(filename).name or filename)[:255]
        self.sha256 = hashlib.sha256(data).hexdigest()
        self.size_bytes = len(data)
        self.actor_label = actor_label[:100]
        self.started_at = clock.now()

    def import_row(self, status: ImportStatus, report: ImportReport) -> ReferralImport:
        return ReferralImport(
            filename=self.filename,
            sha256=self.sha256,
            size_bytes=self.size_bytes,
            actor_label=self.actor_label,
            status=status,
            started_at=self.started_at,
            finished_at=clock.now(),
            imported_count=report.imported,
            updated_count=report.updated,
            unchanged_count=report.unchanged,
            rejected_count=report.rejected_rows,
            report=report.as_json(limit=STORED_REPORT_LIMIT),
        )

    def audit_event(self, status: ImportStatus, report: ImportReport, import_id: int) -> AuditEvent:
        return AuditEvent(
            occurred_at=clock.now(),
            actor_label=self.actor_label,
            action=AUDIT_ACTION,
            object_type="referral_import",
            object_id=str(import_id),
            outcome=_AUDIT_OUTCOMES[status],
            detail={
                "imported": report.imported,
                "updated": report.updated,
                "unchanged": report.unchanged,
                "rejected_rows": report.rejected_rows,
                "file_errors": len(report.file_errors),
                "sha256": self.sha256,
                "size_bytes": self.size_bytes,
            },
        )

    def record_alone(self, status: ImportStatus, report: ImportReport) -> int:
        """Record a run that wrote nothing else, in its own transaction; return its id."""
        with session_scope() as session:
            run = self.import_row(status, report)
            session.add(run)
            session.flush()
            session.add(self.audit_event(status, report, run.id))
        return run.id


def _counted(
    rows: Iterator[tuple[int, list[str]]], total: int, progress: Progress
) -> Iterator[tuple[int, list[str]]]:
    done = 0
    progress(done, total)
    for row in rows:
        yield row
        done += 1
        if done % PROGRESS_EVERY_ROWS == 0:
            progress(done, total)
    progress(done, total)


def _validate(
    data: bytes, settings: Settings, today_at: datetime, progress: Progress | None = None
) -> tuple[ValidatedFile, list[RowWarning], tuple[str, ...]]:
    decoded = decode(data, max_bytes=settings.intake_max_bytes)
    table = read_table(decoded.text, max_rows=settings.intake_max_rows)
    rows = table.rows
    if progress is not None:
        # A first pass only counts the rows (csv parsing is cheap beside checking them).
        total = sum(1 for _ in read_table(decoded.text, max_rows=settings.intake_max_rows).rows)
        rows = _counted(rows, total, progress)
    file_warnings: list[RowWarning] = []
    if decoded.encoding == "windows-1252":
        file_warnings.append(RowWarning(None, None, WINDOWS_1252_WARNING))
    file_warnings.extend(
        RowWarning(table.header_row, column.label, "unknown column ignored")
        for column in table.layout.ignored
    )
    context = RowContext(
        layout=table.layout,
        today=today_at.astimezone(ZoneInfo(settings.timezone)).date(),
        production=settings.production,
    )
    validated = validate_rows(rows, context)
    optional_fields = tuple(name for name in PATIENT_OPTIONAL_FIELDS if table.layout.has(name))
    return validated, file_warnings, optional_fields


def import_worklist(
    data: bytes,
    *,
    filename: str,
    settings: Settings,
    actor_label: str,
    progress: Progress | None = None,
) -> ImportReport:
    """Import an e-RS worklist CSV and return what happened (see docs/worklist-format.md).

    Row problems reject only their rows; file problems reject the whole file (exit code 2).
    Re-importing is safe: referrals are matched by UBRN, changed details are updated and
    outreach history is kept. A database failure is recorded as a failed run and re-raised,
    with nothing of the import written. ``progress`` (see ``Progress``) follows the checking.
    """
    run = _Run(data, filename, actor_label)
    report = ImportReport()
    try:
        validated, file_warnings, optional_fields = _validate(
            data, settings, run.started_at, progress
        )
    except FileRejected as error:
        report.file_errors = list(error.reasons)
        report.import_id = run.record_alone(ImportStatus.REJECTED, report)
        logger.info(
            "referral import %s rejected: %d file errors", report.import_id, len(report.file_errors)
        )
        return report
    report.rejected = validated.problems
    try:
        with session_scope() as session:
            record = run.import_row(ImportStatus.RUNNING, ImportReport())
            session.add(record)
            session.flush()
            outcome = upsert_records(
                session,
                validated.records,
                import_id=record.id,
                optional_fields=optional_fields,
                moment=run.started_at,
            )
            report.import_id = record.id
            report.imported = outcome.imported
            report.updated = outcome.updated
            report.unchanged = outcome.unchanged
            report.rejected.extend(outcome.problems)
            rejected_rows = {problem.row for problem in report.rejected}
            report.warnings = file_warnings + [
                warning
                for warning in (*validated.warnings, *outcome.warnings)
                if warning.row not in rejected_rows
            ]
            status = (
                ImportStatus.COMPLETED_WITH_REJECTIONS
                if report.rejected
                else ImportStatus.COMPLETED
            )
            finished = run.import_row(status, report)
            for column in (
                "status",
                "finished_at",
                "imported_count",
                "updated_count",
                "unchanged_count",
                "rejected_count",
                "report",
            ):
                setattr(record, column, getattr(finished, column))
            session.add(run.audit_event(status, report, record.id))
    except Exception as error:
        # The message of a database error can quote row values: log its type only.
        logger.error("referral import %s failed: %s", run.sha256[:12], type(error).__name__)
        failed = ImportReport(rejected=report.rejected)
        failed.file_errors = ["the import failed and nothing was written; try again"]
        try:
            run.record_alone(ImportStatus.FAILED, failed)
        except Exception as record_error:
            logger.error("could not record the failed import: %s", type(record_error).__name__)
        raise
    logger.info(
        "referral import %s: %d new, %d updated, %d unchanged, %d rows rejected",
        report.import_id,
        report.imported,
        report.updated,
        report.unchanged,
        report.rejected_rows,
    )
    return report
