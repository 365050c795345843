"""Referrals: one per UBRN, the unit of work the centre books."""

from __future__ import annotations

from datetime import date, datetime
from typing import TYPE_CHECKING

from sqlalchemy import Date, ForeignKey, Index, Integer, String, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from rmc_outreach.clock import now
from rmc_outreach.db import Base, UtcDateTime
from rmc_outreach.models.columns import enum_column_type
from rmc_outreach.models.states import Channel, Priority, ReferralStatus

if TYPE_CHECKING:
    from rmc_outreach.models.patients import Patient


class Referral(Base):
    """A referral needing a booking (status diagram in ``models.states``).

    ``next_action_at`` holds every long wait: dispatch picks referrals whose time has come, in
    priority order, using ``ix_referral_dispatch``.
    """

    __tablename__ = "referral"
    __table_args__ = (
        Index("ix_referral_dispatch", "status", "priority", "next_action_at"),
        # Only waiting referrals on PostgreSQL: claims and closures never write to it.
        Index(
            "ix_referral_waiting_order",
            "status",
            "priority",
            "referral_date",
            postgresql_where=text("status = 'waiting'"),
        ),
        # The queue page's "reached today", over reached referrals only, so a claim's update
        # (never HOT: next_action_at is indexed) writes no entry here. ("Exhausted today" reads
        # exhausted referrals through ix_referral_dispatch.)
        Index(
            "ix_referral_reached_at",
            "reached_at",
            postgresql_where=text("reached_at IS NOT NULL"),
            sqlite_where=text("reached_at IS NOT NULL"),
        ),
        # The referral search's specialty filter and its list of specialties (a skip scan).
        Index("ix_referral_specialty", "specialty"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    ubrn: Mapped[str] = mapped_column(String(12), unique=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patient.id"), index=True)
    specialty: Mapped[str] = mapped_column(String(100))
    priority: Mapped[Priority] = mapped_column(enum_column_type(Priority, "referral_priority"))
    referral_date: Mapped[date] = mapped_column(Date)
    status: Mapped[ReferralStatus] = mapped_column(
        enum_column_type(ReferralStatus, "referral_status"), default=ReferralStatus.WAITING
    )
    next_action_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    journey_step: Mapped[int] = mapped_column(Integer, default=0)
    reached_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    reached_by: Mapped[Channel | None] = mapped_column(enum_column_type(Channel, "reached_channel"))
    # The planned next step's channel (shown on the queue; dispatch re-plans before acting),
    # when the last step ended, and why the journey ended without reaching the patient.
    next_channel: Mapped[Channel | None] = mapped_column(enum_column_type(Channel, "next_channel"))
    last_contact_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    journey_end_reason: Mapped[str | None] = mapped_column(String(40))
    # Automated contact paused for this referral by a supervisor (``referral_actions``):
    # dispatch claims no step while it is set, and a worker defers an attempt it finds paused.
    # Who paused it, and every pause and resume, are in the audit trail.
    outreach_paused_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    outreach_pause_reason: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=now)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, default=now, onupdate=now)
    last_import_id: Mapped[int | None] = mapped_column(ForeignKey("referral_import.id"))

    patient: Mapped[Patient] = relationship(back_populates="referrals")
