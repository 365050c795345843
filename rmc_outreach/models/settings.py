"""Settings an admin has changed in the browser, over the defaults from the environment."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from rmc_outreach.clock import now
from rmc_outreach.db import Base, UtcDateTime


class Setting(Base):
    """One engine setting as an admin last set it (``key`` as in
    ``rmc_outreach.engine_config.OVERRIDE_KEYS``; ``value`` its JSON value).

    A row exists only while the admin's value differs from the environment's default; the
    reserved key ``settings.revision`` counts saves, so every process notices a change with
    one small read (``rmc_outreach.settings_store.live``). Every change is in the audit trail
    (``settings.change``, with the old and new values).
    """

    __tablename__ = "setting"

    key: Mapped[str] = mapped_column(String(80), primary_key=True)
    value: Mapped[Any] = mapped_column(JSON)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, default=now, onupdate=now)
    updated_by_user_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
