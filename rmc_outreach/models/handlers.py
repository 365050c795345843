"""Call handlers, their availability history, handoffs and callback requests."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from rmc_outreach.clock import now
from rmc_outreach.db import Base, UtcDateTime
from rmc_outreach.models.columns import enum_column_type
from rmc_outreach.models.states import HandlerState


class Handler(Base):
    """A call handler who takes patients handed off by automated calls.

    ``endpoint`` is where the handler is rung: an E.164 number, a SIP URI or a Twilio client
    identity. Every change of ``state`` is also recorded in ``handler_session``.
    """

    __tablename__ = "handler"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"), unique=True)
    display_name: Mapped[str] = mapped_column(String(100))
    endpoint: Mapped[str] = mapped_column(String(200))
    state: Mapped[HandlerState] = mapped_column(
        enum_column_type(HandlerState, "handler_state"), default=HandlerState.OFFLINE
    )
    state_changed_at: Mapped[datetime] = mapped_column(UtcDateTime, default=now)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=now)


class HandlerSession(Base):
    """One spell of a handler in one state; ``ended_at`` is empty for the current spell."""

    __tablename__ = "handler_session"
    __table_args__ = (Index("ix_handler_session_handler_started", "handler_id", "started_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    handler_id: Mapped[int] = mapped_column(ForeignKey("handler.id"))
    state: Mapped[HandlerState] = mapped_column(
        enum_column_type(HandlerState, "handler_session_state")
    )
    started_at: Mapped[datetime] = mapped_column(UtcDateTime, default=now)
    ended_at: Mapped[datetime | None] = mapped_column(UtcDateTime)


class Handoff(Base):
    """A patient who answered, queued for a handler and (if all went well) bridged to one."""

    __tablename__ = "handoff"
    __table_args__ = (Index("ix_handoff_queued_at", "queued_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    attempt_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("contact_attempt.id"), index=True
    )
    referral_id: Mapped[int | None] = mapped_column(ForeignKey("referral.id"), index=True)
    handler_id: Mapped[int | None] = mapped_column(ForeignKey("handler.id"), index=True)
    queued_at: Mapped[datetime] = mapped_column(UtcDateTime, default=now)
    connected_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    ended_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    wrap_up_ended_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    abandoned: Mapped[bool] = mapped_column(default=False)
    outcome: Mapped[str | None] = mapped_column(String(40))
    note: Mapped[str | None] = mapped_column(Text)


class CallbackRequest(Base):
    """A patient to ring back: after an abandoned call, an SMS reply or a request in the IVR."""

    __tablename__ = "callback_request"
    __table_args__ = (Index("ix_callback_request_open", "completed_at", "created_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    referral_id: Mapped[int | None] = mapped_column(ForeignKey("referral.id"), index=True)
    reason: Mapped[str] = mapped_column(String(40))
    phone: Mapped[str | None] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=now)
    due_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    claimed_by_handler_id: Mapped[int | None] = mapped_column(ForeignKey("handler.id"))
    claimed_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    completed_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    outcome: Mapped[str | None] = mapped_column(String(40))
