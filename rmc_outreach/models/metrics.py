"""The assumptions behind the managers' figures that an admin may change."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Float, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from rmc_outreach.clock import now
from rmc_outreach.db import Base, UtcDateTime


class MetricAssumption(Base):
    """One assumption of staff time saved or provider cost, as an admin last set it.

    A row exists once an admin has changed the assumption; until then the default in
    ``rmc_outreach.metrics.assumptions`` applies. Every change is in the audit trail
    (``stats.assumption_change``, with the old and new value).
    """

    __tablename__ = "metric_assumption"

    name: Mapped[str] = mapped_column(String(60), primary_key=True)
    value: Mapped[float] = mapped_column(Float)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, default=now, onupdate=now)
    updated_by_user_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
