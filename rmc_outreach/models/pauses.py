"""Outreach paused by a supervisor: for every priority, or for one."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from rmc_outreach.clock import now
from rmc_outreach.db import Base, UtcDateTime

# The scope that pauses every priority; the others are ``Priority`` values.
ALL_PRIORITIES_SCOPE = "all"


class OutreachPause(Base):
    """One paused scope: ``all`` or a priority value (``2ww``, ``urgent``, ``routine``).

    A row exists while the scope is paused; resuming deletes it. The history of pauses and
    resumes is in the audit trail (``outreach.pause`` and ``outreach.resume``).
    """

    __tablename__ = "outreach_pause"

    scope: Mapped[str] = mapped_column(String(16), primary_key=True)
    paused_at: Mapped[datetime] = mapped_column(UtcDateTime, default=now)
    paused_by_user_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    reason: Mapped[str] = mapped_column(String(200))
