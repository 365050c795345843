"""Call handlers, their availability history, handoffs and callback requests."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum

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


class HandoffSource(StrEnum):
    """How a handoff began: an outbound call's patient pressed 1, a patient rang us, or a
    handler rang a patient back ("call this patient now")."""

    OUTBOUND = "outbound"
    INBOUND = "inbound"
    CALLBACK = "callback"


class HandoffEndReason(StrEnum):
    """Why a handoff ended (``handoff.ended_reason``)."""

    BRIDGED_DONE = "bridged_done"  # patient and handler talked; the call is over
    ABANDONED_TIMEOUT = "abandoned_timeout"  # nobody in time: the information message played
    ABANDONED_HANGUP = "abandoned_hangup"  # the patient hung up while waiting
    CALLBACK_REQUESTED = "callback_requested"  # the patient chose a callback while waiting
    PATIENT_NOT_REACHED = "patient_not_reached"  # a handler's callback call went unanswered
    HANDLER_NOT_REACHED = "handler_not_reached"  # the handler's own phone did not answer


class Handoff(Base):
    """A patient queued for a handler and (if all went well) bridged to one.

    Outbound and inbound handoffs wait in their own Twilio queue ``handoff-<id>``; the ACD
    (``rmc_outreach.acd``) offers them to handlers in our order. ``callback_request_id`` is the
    callback request of this handoff: the one being worked (source ``callback``), or the one
    made when the patient could not be taken (abandoned, or asked to be called back).
    """

    __tablename__ = "handoff"
    __table_args__ = (Index("ix_handoff_queued_at", "queued_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # One handoff per outbound call: the webhook and the event task both get-or-create it.
    attempt_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("contact_attempt.id"), index=True, unique=True
    )
    referral_id: Mapped[int | None] = mapped_column(ForeignKey("referral.id"), index=True)
    handler_id: Mapped[int | None] = mapped_column(ForeignKey("handler.id"), index=True)
    source: Mapped[str] = mapped_column(String(20), default=HandoffSource.OUTBOUND)
    # The patient's call leg (outbound and inbound); a replayed inbound webhook finds it.
    call_sid: Mapped[str | None] = mapped_column(String(64), index=True, unique=True)
    caller_number: Mapped[str | None] = mapped_column(String(16))  # inbound only; never logged
    callback_request_id: Mapped[int | None] = mapped_column(
        ForeignKey("callback_request.id"), index=True
    )
    queued_at: Mapped[datetime] = mapped_column(UtcDateTime, default=now)
    connected_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    ended_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    ended_reason: Mapped[str | None] = mapped_column(String(30))
    talk_seconds: Mapped[int | None] = mapped_column(Integer)
    wrap_up_seconds: Mapped[int | None] = mapped_column(Integer)
    wrap_up_ended_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    abandoned: Mapped[bool] = mapped_column(default=False)
    outcome: Mapped[str | None] = mapped_column(String(40))
    note: Mapped[str | None] = mapped_column(Text)


class OfferResult(StrEnum):
    """What became of ringing a handler for a handoff (``handoff_offer.result``)."""

    ANSWERED = "answered"
    BRIDGED = "bridged"
    NO_ANSWER = "no-answer"
    BUSY = "busy"
    FAILED = "failed"
    CANCELED = "canceled"


class HandoffOffer(Base):
    """One handler rung for one handoff; ``result`` is empty while their phone rings."""

    __tablename__ = "handoff_offer"
    __table_args__ = (Index("ix_handoff_offer_handler_offered", "handler_id", "offered_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    handoff_id: Mapped[int] = mapped_column(ForeignKey("handoff.id"), index=True)
    handler_id: Mapped[int] = mapped_column(ForeignKey("handler.id"))
    offered_at: Mapped[datetime] = mapped_column(UtcDateTime, default=now)
    call_sid: Mapped[str | None] = mapped_column(String(64))
    answered_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    ended_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    result: Mapped[str | None] = mapped_column(String(20))


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
