"""A worklist uploaded in the browser and imported by a worker.

Import job state (``finished`` and ``failed`` are final)::

    queued ──> running ──> finished   (the importer ran: its referral_import row has the result)
      ^  │        └──────> failed     (the stored file was gone, or the importer raised)
      │  v
    not_queued                        (the broker did not take the task: retried by a person)

A ``running`` job whose worker was lost (no progress for ``STALE_AFTER``) may be claimed again:
the importer writes in one transaction and matches referrals by UBRN, so a second run is safe.
Why a job failed is kept apart from its state, in ``error_reason``.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from rmc_outreach.clock import now
from rmc_outreach.db import Base, UtcDateTime
from rmc_outreach.models.columns import enum_column_type


class ImportJobState(StrEnum):
    """Where an uploaded worklist is (see the module docstring's diagram)."""

    QUEUED = "queued"
    NOT_QUEUED = "not_queued"
    RUNNING = "running"
    FINISHED = "finished"
    FAILED = "failed"


class ImportJob(Base):
    """One upload: the stored file (under the var folder, removed once imported), who sent it,
    progress while it runs (rows checked of the file's rows) and the import run it became."""

    __tablename__ = "import_job"
    __table_args__ = (Index("ix_import_job_created_at", "created_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    state: Mapped[ImportJobState] = mapped_column(
        enum_column_type(ImportJobState, "import_job_state")
    )
    error_reason: Mapped[str | None] = mapped_column(String(40))
    filename: Mapped[str] = mapped_column(String(255))
    stored_name: Mapped[str] = mapped_column(String(64), unique=True)
    sha256: Mapped[str] = mapped_column(String(64))
    size_bytes: Mapped[int] = mapped_column(Integer)
    uploaded_by_user_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    actor_label: Mapped[str] = mapped_column(String(100))
    rows_total: Mapped[int | None] = mapped_column(Integer)
    rows_done: Mapped[int] = mapped_column(Integer, default=0)
    # Wall-clock time of the last sign of life from the worker (the demo's clock may jump).
    progress_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    referral_import_id: Mapped[int | None] = mapped_column(ForeignKey("referral_import.id"))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=now)
    started_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
