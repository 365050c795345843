"""Contact attempts and the provider events that report on them."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, Integer, String, UniqueConstraint, Uuid, text
from sqlalchemy.orm import Mapped, mapped_column

from rmc_outreach.clock import now
from rmc_outreach.db import Base, UtcDateTime
from rmc_outreach.models.columns import enum_column_type
from rmc_outreach.models.states import AttemptOutcome, AttemptState, Channel


class ContactAttempt(Base):
    """One try on one channel (state diagram in ``models.states``).

    The id is made before the attempt is queued, so a replayed task finds its row. A referral has
    at most one attempt per journey step and channel: the unique constraint is the last line of
    defence against calling a patient twice.
    """

    __tablename__ = "contact_attempt"
    __table_args__ = (
        UniqueConstraint("referral_id", "step", "channel", name="uq_contact_attempt_step"),
        Index("ix_contact_attempt_state_claimed_at", "state", "claimed_at"),
        Index("ix_contact_attempt_created_at", "created_at"),
        # The managers' statistics: a referral's attempts in time order (its first attempt,
        # and how many came before it was reached) without reading the table.
        Index("ix_contact_attempt_referral_created_at", "referral_id", "created_at"),
        Index(
            "uq_contact_attempt_provider_sid",
            "provider_sid",
            unique=True,
            postgresql_where=text("provider_sid IS NOT NULL"),
            sqlite_where=text("provider_sid IS NOT NULL"),
        ),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    # Looked up through uq_contact_attempt_step, whose leading column it is.
    referral_id: Mapped[int] = mapped_column(ForeignKey("referral.id"))
    channel: Mapped[Channel] = mapped_column(enum_column_type(Channel, "attempt_channel"))
    step: Mapped[int] = mapped_column(Integer)
    state: Mapped[AttemptState] = mapped_column(
        enum_column_type(AttemptState, "attempt_state"), default=AttemptState.PENDING
    )
    outcome: Mapped[AttemptOutcome | None] = mapped_column(
        enum_column_type(AttemptOutcome, "attempt_outcome")
    )
    error_reason: Mapped[str | None] = mapped_column(String(200))
    destination: Mapped[str | None] = mapped_column(String(32))
    # Unique among the attempts that have one (uq_contact_attempt_provider_sid, partial: a new
    # attempt, written by a claim, has none and costs that index nothing).
    provider_sid: Mapped[str | None] = mapped_column(String(64))
    answered_by: Mapped[str | None] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=now)
    claimed_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    started_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    answered_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    ended_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    ring_seconds: Mapped[int | None] = mapped_column(Integer)
    duration_seconds: Mapped[int | None] = mapped_column(Integer)
    # Facts from the provider, each recorded once (see ``rmc_outreach.attempts.annotate``).
    template: Mapped[str | None] = mapped_column(String(40))
    provider_status: Mapped[str | None] = mapped_column(String(20))
    keypad_choice: Mapped[str | None] = mapped_column(String(4))
    voicemail_at: Mapped[datetime | None] = mapped_column(UtcDateTime)


class ProviderEvent(Base):
    """A webhook from the provider, stored exactly once under ``event_key``, applied later."""

    __tablename__ = "provider_event"
    __table_args__ = (Index("ix_provider_event_unprocessed", "processed_at", "received_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    event_key: Mapped[str] = mapped_column(String(200), unique=True)
    kind: Mapped[str] = mapped_column(String(40))
    provider_sid: Mapped[str | None] = mapped_column(String(64), index=True)
    attempt_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("contact_attempt.id"), index=True
    )
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    received_at: Mapped[datetime] = mapped_column(UtcDateTime, default=now)
    processed_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
