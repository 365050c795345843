"""Letters, the last resort of a journey, and the daily print batches that carry them.

Letter status::

    pending ──> printed      (cut into the day's print batch: final)
       └──────> cancelled    (the patient was reached, booked, declined or opted out first: final)

A letter is cancellable only while it is ``pending`` and in no batch; once a batch is cut its
letters are ``printed`` and nothing changes them again.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from enum import StrEnum

from sqlalchemy import Boolean, Date, ForeignKey, Index, Integer, String, Uuid, false
from sqlalchemy.orm import Mapped, mapped_column

from rmc_outreach.clock import now
from rmc_outreach.db import Base, UtcDateTime
from rmc_outreach.models.columns import enum_column_type


class LetterStatus(StrEnum):
    """Lifecycle of one letter (see the module docstring)."""

    PENDING = "pending"
    PRINTED = "printed"
    CANCELLED = "cancelled"


class Letter(Base):
    """One letter for one letter attempt (at most one: ``attempt_id`` is unique).

    The letter keeps no copy of the patient's name or address: it is rendered from the patient
    row when its batch is cut, so a change of address made before the cut is honoured.
    """

    __tablename__ = "letter"
    __table_args__ = (Index("ix_letter_status_created_at", "status", "created_at"),)

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    referral_id: Mapped[int] = mapped_column(ForeignKey("referral.id"), index=True)
    attempt_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("contact_attempt.id"), unique=True)
    large_print: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    status: Mapped[LetterStatus] = mapped_column(
        enum_column_type(LetterStatus, "letter_status"), default=LetterStatus.PENDING
    )
    batch_id: Mapped[int | None] = mapped_column(ForeignKey("print_batch.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=now)
    cancelled_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    cancel_reason: Mapped[str | None] = mapped_column(String(200))


class PrintBatch(Base):
    """One day's print run: a single PDF of every letter cut that day and its CSV manifest.

    ``day`` is unique, so a day is cut at most once; ``sha256`` is the PDF's digest, for the
    print house to confirm it received the file that was made.
    """

    __tablename__ = "print_batch"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    day: Mapped[date] = mapped_column(Date, unique=True)
    cut_at: Mapped[datetime] = mapped_column(UtcDateTime, default=now)
    letter_count: Mapped[int] = mapped_column(Integer, default=0)
    pdf_path: Mapped[str] = mapped_column(String(500), default="")
    manifest_path: Mapped[str] = mapped_column(String(500), default="")
    sha256: Mapped[str] = mapped_column(String(64), default="")
