"""The handlers' work list: callback requests and SMS replies not yet completed, and claims.

The list is read through ``ix_callback_request_open`` (``completed_at``, ``created_at``): only
open requests, a bounded number, due first (a request with no due time is due when made). A
claim is one conditional UPDATE on ``claimed_by_handler_id``: one handler at a time.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import CursorResult, func, or_, select, update
from sqlalchemy.orm import Session, aliased

from rmc_outreach.activity import callback_reason_label
from rmc_outreach.activity.today import SMS_REPLY_REASONS
from rmc_outreach.audit import record_audit_event
from rmc_outreach.clock import now
from rmc_outreach.handlers import lock_handler
from rmc_outreach.handoff_outcomes import (
    NOT_PATIENT_REASON,
    PATIENT_ASKED_REASON,
    WRONG_NUMBER_REASON,
    OutcomeConflict,
    WorkNotFound,
    handler_actor,
)
from rmc_outreach.models import CallbackRequest, Handler, Priority, Referral
from rmc_outreach.phones import mask_phone
from rmc_outreach.queue_view import PRIORITY_LABELS

WORK_LIST_LIMIT = 50
WORK_REASON_LABELS = {
    PATIENT_ASKED_REASON: "Asked to be called back at this time",
    NOT_PATIENT_REASON: "Someone else answered: try the patient again",
    WRONG_NUMBER_REASON: "Wrong number: try the patient's other phone",
}


def reason_label(reason: str) -> str:
    """Words for why the patient is on the list."""
    return WORK_REASON_LABELS.get(reason) or callback_reason_label(reason)


@dataclass(frozen=True)
class WorkItem:
    """One callback request or SMS reply to work (masked phone; no name until it is worked)."""

    id: int
    kind: str  # callback | sms_reply
    reason: str
    created_at: datetime
    due_at: datetime
    claimed_by_id: int | None
    claimed_by: str | None
    claimed_by_me: bool
    referral_id: int | None
    ubrn: str | None
    priority: Priority | None
    specialty: str | None
    phone_masked: str | None
    is_due: bool

    @property
    def reason_label(self) -> str:
        """Why, in words."""
        return reason_label(self.reason)

    @property
    def priority_label(self) -> str | None:
        """2WW, Urgent or Routine."""
        return None if self.priority is None else PRIORITY_LABELS[self.priority]

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready, masked."""
        return {
            "kind": self.kind,
            "id": self.id,
            "created_at": self.created_at.isoformat(),
            "due_at": self.due_at.isoformat(),
            "is_due": self.is_due,
            "reason": self.reason,
            "reason_label": self.reason_label,
            "claimed_by_me": self.claimed_by_me,
            "claimed_by": self.claimed_by,
            "referral_id": self.referral_id,
            "ubrn": self.ubrn,
            "priority": None if self.priority is None else self.priority.value,
            "specialty": self.specialty,
            "phone_masked": self.phone_masked,
        }


def work_list(
    session: Session, handler_id: int, at: datetime, limit: int = WORK_LIST_LIMIT
) -> tuple[WorkItem, ...]:
    """Open callback requests and SMS replies: mine first, then due soonest, oldest first."""
    claimer = aliased(Handler)
    due = func.coalesce(CallbackRequest.due_at, CallbackRequest.created_at)
    rows = session.execute(
        select(
            CallbackRequest,
            claimer.display_name,
            Referral.ubrn,
            Referral.priority,
            Referral.specialty,
        )
        .outerjoin(claimer, claimer.id == CallbackRequest.claimed_by_handler_id)
        .outerjoin(Referral, Referral.id == CallbackRequest.referral_id)
        .where(CallbackRequest.completed_at.is_(None))
        .order_by(due, CallbackRequest.created_at, CallbackRequest.id)
        .limit(limit)
    ).all()
    items = [
        WorkItem(
            id=callback.id,
            kind="sms_reply" if callback.reason in SMS_REPLY_REASONS else "callback",
            reason=callback.reason,
            created_at=callback.created_at,
            due_at=callback.due_at or callback.created_at,
            claimed_by_id=callback.claimed_by_handler_id,
            claimed_by=claimed_by,
            claimed_by_me=callback.claimed_by_handler_id == handler_id,
            referral_id=callback.referral_id,
            ubrn=ubrn,
            priority=priority,
            specialty=specialty,
            phone_masked=mask_phone(callback.phone) if callback.phone else None,
            is_due=(callback.due_at or callback.created_at) <= at,
        )
        for callback, claimed_by, ubrn, priority, specialty in rows
    ]
    # Mine first (the handler is working them), keeping due order otherwise.
    items.sort(key=lambda item: not item.claimed_by_me)
    return tuple(items)


def _rowcount(result: Any) -> int:
    return cast(CursorResult[Any], result).rowcount


def claim_callback(session: Session, handler_id: int, callback_id: int) -> CallbackRequest:
    """Claim a callback request for this handler: one handler at a time (conditional UPDATE).
    Claiming one's own claim again is a no-op. Raises ``HandlerNotFound``, ``WorkNotFound`` or
    ``OutcomeConflict``."""
    moment = now()
    lock_handler(session, handler_id)
    claimed = _rowcount(
        session.execute(
            update(CallbackRequest)
            .where(
                CallbackRequest.id == callback_id,
                CallbackRequest.completed_at.is_(None),
                or_(
                    CallbackRequest.claimed_by_handler_id.is_(None),
                    CallbackRequest.claimed_by_handler_id == handler_id,
                ),
            )
            .values(
                claimed_by_handler_id=handler_id,
                claimed_at=func.coalesce(CallbackRequest.claimed_at, moment),
            )
            .execution_options(synchronize_session=False)
        )
    )
    callback = session.get(CallbackRequest, callback_id, populate_existing=True)
    if callback is None:
        raise WorkNotFound(f"callback request {callback_id} does not exist")
    if not claimed:
        if callback.completed_at is not None:
            raise OutcomeConflict(f"callback request {callback_id} is already completed")
        raise OutcomeConflict(f"callback request {callback_id} is claimed by another handler")
    record_audit_event(
        session,
        actor_label=handler_actor(handler_id),
        action="callback.claim",
        outcome="claimed",
        object_type="callback_request",
        object_id=callback_id,
    )
    return callback


def release_callback(session: Session, handler_id: int, callback_id: int) -> None:
    """Give a claimed callback request back to the list. Raises ``OutcomeConflict`` when it is
    not this handler's, ``WorkNotFound`` when it does not exist."""
    lock_handler(session, handler_id)
    released = _rowcount(
        session.execute(
            update(CallbackRequest)
            .where(
                CallbackRequest.id == callback_id,
                CallbackRequest.completed_at.is_(None),
                CallbackRequest.claimed_by_handler_id == handler_id,
            )
            .values(claimed_by_handler_id=None, claimed_at=None)
            .execution_options(synchronize_session=False)
        )
    )
    if not released:
        if session.get(CallbackRequest, callback_id) is None:
            raise WorkNotFound(f"callback request {callback_id} does not exist")
        raise OutcomeConflict(f"callback request {callback_id} is not claimed by you")
    record_audit_event(
        session,
        actor_label=handler_actor(handler_id),
        action="callback.release",
        outcome="released",
        object_type="callback_request",
        object_id=callback_id,
    )
