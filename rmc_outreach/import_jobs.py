"""Worklists uploaded in the browser: store the file, queue it, import it in a worker.

    job_id = accept_upload(session, data, filename=..., var_dir=..., user_id=..., actor_label=...)
    # commit, then enqueue the import task with job_id; if the broker refuses:
    mark_not_queued(session, job_id)
    # in the worker:
    run_import_job(job_id, settings)

The job row is made (and committed) before the task is queued, so a task always finds its row
and a failed publish leaves a job a person can see and queue again, never a lost upload. The
importer itself (``rmc_outreach.intake``) does the work and records its run in
``referral_import``; it matches referrals by UBRN, so importing the same file twice adds nothing
(the second run reports every row unchanged). The uploaded file holds personal data: it is
stored readable by this user only and deleted as soon as the job reaches a final state.

States and their diagram: ``rmc_outreach.models.import_jobs``. Pages read jobs through
``rmc_outreach.import_history``.
"""

from __future__ import annotations

import hashlib
import logging
import os
import secrets
from datetime import UTC, datetime, timedelta
from pathlib import Path, PurePath
from typing import Any, cast

from sqlalchemy import CursorResult, or_, update
from sqlalchemy.orm import Session

from rmc_outreach import clock
from rmc_outreach.audit import record_audit_event
from rmc_outreach.config import Settings
from rmc_outreach.db import session_scope
from rmc_outreach.intake import import_worklist
from rmc_outreach.models import ImportJob, ImportJobState

log = logging.getLogger(__name__)

UPLOAD_ACTION = "import.upload"
REQUEUE_ACTION = "import.requeue"
UPLOAD_FOLDER = "imports"
# A running job that has shown no progress for this long lost its worker: it may run again.
STALE_AFTER = timedelta(minutes=10)
# Progress is written at most this often (each write is a transaction of its own).
PROGRESS_INTERVAL = timedelta(seconds=1)
CLAIMABLE = (ImportJobState.QUEUED, ImportJobState.NOT_QUEUED)
FINAL = (ImportJobState.FINISHED, ImportJobState.FAILED)


class ErrorReason:
    """Why a job is not queued or failed (kept apart from its state)."""

    BROKER_UNREACHABLE = "broker_unreachable"
    FILE_MISSING = "file_missing"
    IMPORT_FAILED = "import_failed"


def _rowcount(result: Any) -> int:
    return cast(CursorResult[Any], result).rowcount


def wall_clock() -> datetime:
    """Real time: a worker's signs of life are about real minutes, whatever the demo's clock."""
    return datetime.now(UTC)


def upload_folder(var_dir: Path) -> Path:
    """Where uploaded files wait for their worker."""
    return var_dir / UPLOAD_FOLDER


def _stored_path(var_dir: Path, stored_name: str) -> Path:
    return upload_folder(var_dir) / stored_name


def _store(var_dir: Path, data: bytes) -> str:
    """Write the upload under a random name (never the name the person gave), owner-only."""
    folder = upload_folder(var_dir)
    folder.mkdir(parents=True, exist_ok=True)
    stored_name = secrets.token_hex(16) + ".csv"
    descriptor = os.open(folder / stored_name, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "wb") as stored:
        stored.write(data)
    return stored_name


def accept_upload(
    session: Session,
    data: bytes,
    *,
    filename: str,
    var_dir: Path,
    user_id: int | None,
    actor_label: str,
) -> int:
    """Store an uploaded file and add its job (``queued``) with an audit event to the session's
    transaction; returns the job's id. Queue the task only after the commit."""
    stored_name = _store(var_dir, data)
    sha256 = hashlib.sha256(data).hexdigest()
    job = ImportJob(
        state=ImportJobState.QUEUED,
        filename=(PurePath(filename).name or "upload.csv")[:255],
        stored_name=stored_name,
        sha256=sha256,
        size_bytes=len(data),
        uploaded_by_user_id=user_id,
        actor_label=actor_label[:100],
        rows_done=0,
        created_at=clock.now(),
    )
    session.add(job)
    session.flush()
    record_audit_event(
        session,
        actor_label=actor_label,
        actor_user_id=user_id,
        action=UPLOAD_ACTION,
        outcome="success",
        object_type="import_job",
        object_id=job.id,
        detail={"sha256": sha256, "size_bytes": len(data)},
    )
    return job.id


def mark_not_queued(session: Session, job_id: int) -> bool:
    """The broker did not take the task: a still-queued job becomes ``not_queued`` (a person
    may queue it again). Returns whether it changed (a worker may already have it)."""
    changed = session.execute(
        update(ImportJob)
        .where(ImportJob.id == job_id, ImportJob.state == ImportJobState.QUEUED)
        .values(state=ImportJobState.NOT_QUEUED, error_reason=ErrorReason.BROKER_UNREACHABLE)
        .execution_options(synchronize_session=False)
    )
    return _rowcount(changed) == 1


def requeue(session: Session, job_id: int, *, actor_label: str, user_id: int | None) -> bool:
    """A ``not_queued`` job becomes ``queued`` again (audited); returns whether it did. Queue the
    task after the commit."""
    changed = session.execute(
        update(ImportJob)
        .where(ImportJob.id == job_id, ImportJob.state == ImportJobState.NOT_QUEUED)
        .values(state=ImportJobState.QUEUED, error_reason=None)
        .execution_options(synchronize_session=False)
    )
    if _rowcount(changed) != 1:
        return False
    record_audit_event(
        session,
        actor_label=actor_label,
        actor_user_id=user_id,
        action=REQUEUE_ACTION,
        outcome="success",
        object_type="import_job",
        object_id=job_id,
    )
    return True


def _claim(job_id: int) -> ImportJob | None:
    """Move the job to ``running`` if it is waiting (or its worker was lost); the claimed row,
    detached, or None when there is nothing to do (a replayed task, a final job)."""
    moment = wall_clock()
    with session_scope() as session:
        claimed = session.execute(
            update(ImportJob)
            .where(
                ImportJob.id == job_id,
                or_(
                    ImportJob.state.in_(CLAIMABLE),
                    (ImportJob.state == ImportJobState.RUNNING)
                    & (ImportJob.progress_at < moment - STALE_AFTER),
                ),
            )
            .values(
                state=ImportJobState.RUNNING,
                error_reason=None,
                started_at=clock.now(),
                progress_at=moment,
                rows_done=0,
                rows_total=None,
            )
            .execution_options(synchronize_session=False)
        )
        if _rowcount(claimed) != 1:
            return None
        job = session.get(ImportJob, job_id)
        if job is None:  # pragma: no cover - the row was just updated in this transaction
            return None
        session.expunge(job)
        return job


class _ProgressRecorder:
    """Writes rows checked / rows in the file to the job, at most once a ``PROGRESS_INTERVAL``
    (and always the first and last time)."""

    def __init__(self, job_id: int) -> None:
        self.job_id = job_id
        self.written_at: datetime | None = None

    def __call__(self, done: int, total: int) -> None:
        moment = wall_clock()
        due = self.written_at is None or moment - self.written_at >= PROGRESS_INTERVAL
        if not (due or done in (0, total)):
            return
        self.written_at = moment
        with session_scope() as session:
            session.execute(
                update(ImportJob)
                .where(ImportJob.id == self.job_id, ImportJob.state == ImportJobState.RUNNING)
                .values(rows_done=done, rows_total=total, progress_at=moment)
                .execution_options(synchronize_session=False)
            )


def _finish(
    job_id: int, state: ImportJobState, *, referral_import_id: int | None, reason: str | None
) -> None:
    with session_scope() as session:
        session.execute(
            update(ImportJob)
            .where(ImportJob.id == job_id, ImportJob.state == ImportJobState.RUNNING)
            .values(
                state=state,
                error_reason=reason,
                referral_import_id=referral_import_id,
                finished_at=clock.now(),
                progress_at=wall_clock(),
            )
            .execution_options(synchronize_session=False)
        )


def run_import_job(job_id: int, settings: Settings) -> ImportJobState | None:
    """Import a queued job's file (the worker's task); returns the state it ended in, or None
    when there was nothing to do. Progress is recorded while rows are checked; the stored file
    is deleted once the job is final."""
    job = _claim(job_id)
    if job is None:
        log.info("import job %s: not waiting, nothing to do", job_id)
        return None
    path = _stored_path(settings.var_dir, job.stored_name)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        log.error("import job %s: its stored file is missing", job_id)
        _finish(
            job_id, ImportJobState.FAILED, referral_import_id=None, reason=ErrorReason.FILE_MISSING
        )
        return ImportJobState.FAILED
    try:
        report = import_worklist(
            data,
            filename=job.filename,
            settings=settings,
            actor_label=job.actor_label,
            progress=_ProgressRecorder(job_id),
        )
    except Exception as error:
        # The importer has recorded its failed run; error text may quote row values.
        log.error("import job %s failed: %s", job_id, type(error).__name__)
        _finish(
            job_id, ImportJobState.FAILED, referral_import_id=None, reason=ErrorReason.IMPORT_FAILED
        )
        path.unlink(missing_ok=True)
        return ImportJobState.FAILED
    _finish(job_id, ImportJobState.FINISHED, referral_import_id=report.import_id, reason=None)
    path.unlink(missing_ok=True)
    log.info("import job %s finished as referral import %s", job_id, report.import_id)
    return ImportJobState.FINISHED
