"""What a handler records after talking to a patient, and what that does to the referral.

One outcome, one transaction: the handoff (or the callback request worked) is closed, the
referral's journey moves, the handler leaves wrap-up, and an audit event is written. Input is
validated before anything is written; a refused outcome writes nothing.

What each outcome does (``apply_outcome``; the rules a careful RMC follows):

- ``booked`` (date and clinic): referral → booked, every channel stops, open callback requests of
  the referral are closed (nobody rings a booked patient).
- ``declined``: referral → declined, the same stops.
- ``callback`` (a time inside calling hours): a callback request due then; the referral stays
  reached (automation stays stopped: a person rings).
- ``wrong_number``: the number used is taken off the patient's record (so neither the journey
  nor a handler uses it again) and automated contact ends: the referral → exhausted, reason
  ``wrong_number``, every channel stops. If the patient has another phone we may call (not the
  mobile of a landline-only patient), a callback request to it is made at once, so a person
  tries the other number before anyone writes to the GP; with no phone left, the exhausted
  referral is the hand-back (staff check the contact details with the referrer). Automation
  does not simply carry on: a number that reached a stranger casts doubt on the record, and the
  next step (an SMS to a mobile on the same record) could disclose the referral to the wrong
  person.
- ``not_patient``: someone else answered. Nothing is disclosed, the number stays (the patient may
  live there), a callback request to the same number is made at the time given, or by default at
  the first calling time two hours on. The referral's status is left as it is.
- ``other``: a note is required; the referral is left as it is.
- ``no_answer``: only when working a callback request (the patient did not pick up): the request
  goes back on the list, unclaimed, due again two hours on (within calling hours).

Claims on callback requests (one handler at a time) are in ``console_view.work``.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from enum import StrEnum
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from rmc_outreach.audit import record_audit_event
from rmc_outreach.calendar import CallingWindow
from rmc_outreach.clock import now
from rmc_outreach.handlers import change_state, lock_handler
from rmc_outreach.models import (
    CallbackRequest,
    Channel,
    ContactAttempt,
    HandlerState,
    Handoff,
    Patient,
    Referral,
    ReferralStatus,
)
from rmc_outreach.progress import reach, stop_all_channels

log = logging.getLogger(__name__)

NOTE_MAX_CHARS = 2000
CLINIC_MAX_CHARS = 100
BOOKING_HORIZON = timedelta(days=366)
CALLBACK_HORIZON = timedelta(days=90)
RETRY_AFTER = timedelta(hours=2)
# The reasons callback requests made here carry (the engine's own are in activity.now).
PATIENT_ASKED_REASON = "patient_asked"
NOT_PATIENT_REASON = "not_patient"
WRONG_NUMBER_REASON = "wrong_number_other_phone"
# From these a referral may still be booked or declined by a person (exhausted: handed back).
WORKABLE_STATUSES = (
    ReferralStatus.WAITING,
    ReferralStatus.IN_OUTREACH,
    ReferralStatus.REACHED,
    ReferralStatus.EXHAUSTED,
)
# Referrals automation may still contact (reached: only what the patient asked for).
AUTOMATED_STATUSES = (ReferralStatus.WAITING, ReferralStatus.IN_OUTREACH, ReferralStatus.REACHED)


class Outcome(StrEnum):
    """What came of a conversation (or of trying to have one)."""

    BOOKED = "booked"
    DECLINED = "declined"
    CALLBACK = "callback"
    WRONG_NUMBER = "wrong_number"
    NOT_PATIENT = "not_patient"
    OTHER = "other"
    NO_ANSWER = "no_answer"


OUTCOME_LABELS: Mapping[Outcome, str] = {
    Outcome.BOOKED: "Booked",
    Outcome.DECLINED: "Declined: no longer needs the appointment",
    Outcome.CALLBACK: "Call back at a time the patient chose",
    Outcome.WRONG_NUMBER: "Wrong number",
    Outcome.NOT_PATIENT: "Not the patient",
    Outcome.OTHER: "Other",
    Outcome.NO_ANSWER: "No answer",
}
# A bridged call has a person on it: "no answer" is for callbacks that were never answered.
HANDOFF_OUTCOMES = tuple(outcome for outcome in Outcome if outcome is not Outcome.NO_ANSWER)


class OutcomeError(Exception):
    """Base class of the errors recording an outcome or a claim can raise."""


class InvalidOutcome(OutcomeError, ValueError):
    """Input that cannot be accepted; ``field`` names the form field, the message says why."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


class OutcomeConflict(OutcomeError):
    """The work is not in a state this change applies to (already recorded, someone else's)."""


class WorkNotFound(OutcomeError, LookupError):
    """No handoff or callback request has this id."""


@dataclass(frozen=True)
class OutcomeRequest:
    """A validated outcome: the fields its kind needs, normalised (times in UTC)."""

    outcome: Outcome
    note: str | None = None
    booked_for: date | None = None
    clinic: str | None = None
    callback_at: datetime | None = None


@dataclass(frozen=True)
class OutcomeEffect:
    """What recording the outcome changed."""

    outcome: Outcome
    referral_id: int | None
    referral_status: ReferralStatus | None
    callback_request_id: int | None = None
    number_removed: str | None = None  # which field: mobile, landline or carer

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready; no personal data."""
        return {
            "outcome": self.outcome.value,
            "referral_id": self.referral_id,
            "referral_status": None if self.referral_status is None else self.referral_status.value,
            "callback_request_id": self.callback_request_id,
            "number_removed": self.number_removed,
        }


def _text(data: Mapping[str, Any], field: str) -> str:
    value = data.get(field)
    if value is None:
        return ""
    if not isinstance(value, str):
        raise InvalidOutcome(field, f"{field} must be text")
    return value.strip()


def parse_id(value: Any, field: str) -> int:
    """A positive integer id from JSON or a form; ``InvalidOutcome`` naming ``field`` if not."""
    if isinstance(value, bool):
        raise InvalidOutcome(field, f"{field} must be a whole number")
    if isinstance(value, int):
        number = value
    elif isinstance(value, str) and value.strip().isdigit():
        number = int(value.strip())
    else:
        raise InvalidOutcome(field, f"{field} is required and must be a whole number")
    if number <= 0:
        raise InvalidOutcome(field, f"{field} must be a positive whole number")
    return number


def _parse_callback_at(
    raw: str, window: CallingWindow, at: datetime, *, field: str = "callback_at"
) -> datetime:
    try:
        moment = datetime.fromisoformat(raw)
    except ValueError:
        raise InvalidOutcome(
            field, "the call-back time must be a date and time such as 2026-06-17T10:30"
        ) from None
    if moment.tzinfo is None:  # a form's datetime-local: the centre's own time
        moment = moment.replace(tzinfo=window.zone)
    moment = moment.astimezone(UTC)
    if moment <= at:
        raise InvalidOutcome(field, "the call-back time must be in the future")
    if moment > at + CALLBACK_HORIZON:
        raise InvalidOutcome(field, "the call-back time must be within 90 days")
    if not window.is_open(moment):
        raise InvalidOutcome(
            field,
            f"the call-back time is outside calling hours ({window.start:%H:%M} to "
            f"{window.end:%H:%M} on working days, not bank holidays)",
        )
    return moment


def parse_outcome(
    data: Mapping[str, Any],
    window: CallingWindow,
    *,
    at: datetime | None = None,
    allowed: tuple[Outcome, ...] = HANDOFF_OUTCOMES,
) -> OutcomeRequest:
    """Validate an outcome posted as JSON or a form. Fields that the outcome does not use are
    ignored (a form posts them all, empty). Raises ``InvalidOutcome`` naming the field."""
    moment = at or now()
    raw_outcome = _text(data, "outcome")
    try:
        outcome = Outcome(raw_outcome)
    except ValueError:
        outcome = None
    if outcome is None or outcome not in allowed:
        if not raw_outcome:
            raise InvalidOutcome("outcome", "choose an outcome")
        choices = ", ".join(choice.value for choice in allowed)
        raise InvalidOutcome("outcome", f"outcome must be one of: {choices}")
    note = _text(data, "note") or None
    if note is not None and len(note) > NOTE_MAX_CHARS:
        raise InvalidOutcome("note", f"the note must be at most {NOTE_MAX_CHARS} characters")
    if outcome is Outcome.OTHER and note is None:
        raise InvalidOutcome("note", "a note is required for 'other': say what happened")
    if outcome is Outcome.BOOKED:
        return OutcomeRequest(outcome, note, *_parse_booking(data, window, moment))
    if outcome is Outcome.CALLBACK:
        raw = _text(data, "callback_at")
        if not raw:
            raise InvalidOutcome("callback_at", "give the date and time to call back")
        return OutcomeRequest(outcome, note, callback_at=_parse_callback_at(raw, window, moment))
    if outcome is Outcome.NOT_PATIENT:
        raw = _text(data, "callback_at")
        callback_at = (
            _parse_callback_at(raw, window, moment)
            if raw
            else window.next_open(moment + RETRY_AFTER)
        )
        return OutcomeRequest(outcome, note, callback_at=callback_at)
    return OutcomeRequest(outcome, note)


def _parse_booking(
    data: Mapping[str, Any], window: CallingWindow, moment: datetime
) -> tuple[date, str]:
    raw_day = _text(data, "booked_for")
    if not raw_day:
        raise InvalidOutcome("booked_for", "give the appointment date")
    try:
        day = date.fromisoformat(raw_day)
    except ValueError:
        raise InvalidOutcome(
            "booked_for", "the appointment date must be a date such as 2026-06-23"
        ) from None
    today = window.local(moment).date()
    if day < today:
        raise InvalidOutcome("booked_for", "the appointment date cannot be in the past")
    if day > today + BOOKING_HORIZON:
        raise InvalidOutcome("booked_for", "the appointment date must be within a year")
    clinic = " ".join(_text(data, "clinic").split())
    if not clinic:
        raise InvalidOutcome("clinic", "give the clinic the appointment is booked in")
    if len(clinic) > CLINIC_MAX_CHARS:
        raise InvalidOutcome("clinic", f"the clinic must be at most {CLINIC_MAX_CHARS} characters")
    return day, clinic


def _close_open_callbacks(
    session: Session, referral_id: int, outcome: str, moment: datetime
) -> None:
    session.execute(
        update(CallbackRequest)
        .where(CallbackRequest.referral_id == referral_id, CallbackRequest.completed_at.is_(None))
        .values(completed_at=moment, outcome=outcome)
    )


def _settle(session: Session, referral: Referral, status: ReferralStatus, moment: datetime) -> None:
    """Booked or declined by a person: the referral closes and nothing else goes out."""
    if referral.status not in WORKABLE_STATUSES:
        raise OutcomeConflict(
            f"referral {referral.id} is already {referral.status.value}: record 'other' with a "
            "note instead"
        )
    session.execute(
        update(Referral)
        .where(Referral.id == referral.id, Referral.status.in_(WORKABLE_STATUSES))
        .values(
            status=status,
            reached_at=func.coalesce(Referral.reached_at, moment),
            reached_by=func.coalesce(Referral.reached_by, Channel.CALL.value),
            next_action_at=None,
            next_channel=None,
        )
    )
    stop_all_channels(session, referral.id, reason=f"patient_{status.value}")
    _close_open_callbacks(session, referral.id, status.value, moment)


def _remove_number(patient: Patient, number: str | None) -> tuple[str | None, str | None]:
    """Take ``number`` off the patient's record; returns (which field, another phone left to
    call: never the mobile of a landline-only patient)."""
    removed = None
    for field, kind in (
        ("mobile_phone", "mobile"),
        ("landline_phone", "landline"),
        ("carer_phone", "carer"),
    ):
        if number and getattr(patient, field) == number:
            setattr(patient, field, None)
            removed = removed or kind
    return removed, patient.number_to_call


def apply_outcome(
    session: Session,
    referral_id: int | None,
    request: OutcomeRequest,
    *,
    number_used: str | None,
    window: CallingWindow,
    at: datetime | None = None,
) -> OutcomeEffect:
    """Drive the referral's journey from the outcome (rules in the module docstring)."""
    moment = at or now()
    outcome = request.outcome
    referral = None
    if referral_id is not None:
        referral = session.scalars(
            select(Referral)
            .where(Referral.id == referral_id)
            .with_for_update()
            .execution_options(populate_existing=True)
        ).one()
    elif outcome in (Outcome.BOOKED, Outcome.DECLINED, Outcome.WRONG_NUMBER):
        raise InvalidOutcome(
            "outcome",
            "this call is not linked to a referral: record 'other' with a note, or a call back",
        )
    callback_id: int | None = None
    removed: str | None = None
    if outcome is Outcome.BOOKED and referral is not None:
        _settle(session, referral, ReferralStatus.BOOKED, moment)
    elif outcome is Outcome.DECLINED and referral is not None:
        _settle(session, referral, ReferralStatus.DECLINED, moment)
    elif outcome in (Outcome.CALLBACK, Outcome.NOT_PATIENT):
        if outcome is Outcome.CALLBACK and referral is not None:
            reach(session, referral.id, Channel.CALL, at=moment)  # no-op once reached
        callback_id = _new_callback(
            session,
            referral_id,
            reason=PATIENT_ASKED_REASON if outcome is Outcome.CALLBACK else NOT_PATIENT_REASON,
            phone=number_used,
            due_at=request.callback_at or moment,
            moment=moment,
        )
    elif outcome is Outcome.WRONG_NUMBER and referral is not None:
        removed, other = _remove_number(referral.patient, number_used)
        if referral.status in AUTOMATED_STATUSES:
            session.execute(
                update(Referral)
                .where(Referral.id == referral.id)
                .values(
                    status=ReferralStatus.EXHAUSTED,
                    journey_end_reason="wrong_number",
                    next_action_at=None,
                    next_channel=None,
                )
            )
            stop_all_channels(session, referral.id, reason="wrong_number")
        if other is not None and referral.status not in (
            ReferralStatus.BOOKED,
            ReferralStatus.DECLINED,
            ReferralStatus.CANCELLED,
        ):
            callback_id = _new_callback(
                session,
                referral.id,
                reason=WRONG_NUMBER_REASON,
                phone=other,
                due_at=moment,
                moment=moment,
            )
    session.flush()
    status = None
    if referral is not None:
        session.refresh(referral)
        status = referral.status
    return OutcomeEffect(outcome, referral_id, status, callback_id, removed)


def _new_callback(
    session: Session,
    referral_id: int | None,
    *,
    reason: str,
    phone: str | None,
    due_at: datetime,
    moment: datetime,
) -> int:
    request = CallbackRequest(
        referral_id=referral_id, reason=reason, phone=phone, created_at=moment, due_at=due_at
    )
    session.add(request)
    session.flush()
    return request.id


def handler_actor(handler_id: int) -> str:
    """How a handler is named in the audit trail (until sign-in gives a user id)."""
    return f"handler {handler_id}"


def _audit_detail(request: OutcomeRequest, effect: OutcomeEffect) -> dict[str, Any]:
    detail: dict[str, Any] = {**effect.as_dict(), "note_given": request.note is not None}
    if request.booked_for is not None:
        detail["booked_for"] = request.booked_for.isoformat()
        detail["clinic"] = request.clinic
    if request.callback_at is not None:
        detail["callback_at"] = request.callback_at.isoformat()
    return detail


def _booking_note(request: OutcomeRequest) -> str | None:
    if request.booked_for is None:
        return request.note
    booking = f"Booked for {request.booked_for:%a %d %b %Y} at {request.clinic}."
    return booking if request.note is None else f"{booking}\n{request.note}"


def record_handoff_outcome(
    session: Session,
    handler_id: int,
    handoff_id: int,
    request: OutcomeRequest,
    window: CallingWindow,
) -> OutcomeEffect:
    """The handler's outcome for a call that has ended: drive the journey, close the handoff,
    end wrap-up (→ available). Raises ``HandlerNotFound``, ``WorkNotFound``,
    ``OutcomeConflict`` or ``InvalidOutcome``; the caller's transaction then writes nothing."""
    moment = now()
    # Locks in the order every writer takes them (referral, handoff, handler): the worker
    # applying this call's callbacks holds the referral and the handoff while it moves the
    # handler, and the other order deadlocked against it.
    handoff = _lock_handoff(session, handoff_id)
    if handoff is None:
        raise WorkNotFound(f"handoff {handoff_id} does not exist")
    handler = lock_handler(session, handler_id)
    if handoff.handler_id != handler_id or handoff.connected_at is None:
        raise OutcomeConflict(f"handoff {handoff_id} was not connected to handler {handler_id}")
    if handoff.outcome is not None or handoff.wrap_up_ended_at is not None:
        raise OutcomeConflict(f"the outcome of handoff {handoff_id} is already recorded")
    if handoff.ended_at is None:
        raise OutcomeConflict(
            f"handoff {handoff_id} is still connected: record the outcome when the call ends"
        )
    callback = _linked_callback(session, handoff)
    if request.outcome is Outcome.NO_ANSWER and callback is None:
        raise InvalidOutcome("outcome", "'no answer' is only for calling back a patient")
    effect = apply_outcome(
        session,
        handoff.referral_id,
        request,
        number_used=_number_used(session, handoff, callback),
        window=window,
        at=moment,
    )
    handoff.outcome = request.outcome.value
    handoff.note = _booking_note(request)
    handoff.wrap_up_ended_at = moment
    if callback is not None:
        _finish_callback(session, callback, request, window, moment)
    if handler.state is HandlerState.WRAP_UP:
        change_state(session, handler_id, HandlerState.AVAILABLE, at=moment)
    record_audit_event(
        session,
        actor_label=handler_actor(handler_id),
        action="handoff.outcome",
        outcome="recorded",
        object_type="handoff",
        object_id=handoff_id,
        detail=_audit_detail(request, effect),
    )
    log.info("handoff %s: outcome %s by handler %s", handoff_id, request.outcome, handler_id)
    return effect


def _lock_handoff(session: Session, handoff_id: int) -> Handoff | None:
    """The handoff, locked after its referral (a handoff never changes referral)."""
    referral_id = session.scalar(select(Handoff.referral_id).where(Handoff.id == handoff_id))
    if referral_id is not None:
        session.scalar(select(Referral.id).where(Referral.id == referral_id).with_for_update())
    return session.scalars(
        select(Handoff)
        .where(Handoff.id == handoff_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).first()


def _linked_callback(session: Session, handoff: Handoff) -> CallbackRequest | None:
    """The callback request a "call this patient now" handoff works, when the model has it."""
    callback_id = getattr(handoff, "callback_request_id", None)
    if callback_id is None:
        return None
    return session.get(CallbackRequest, callback_id, with_for_update=True)


def _number_used(
    session: Session, handoff: Handoff, callback: CallbackRequest | None
) -> str | None:
    if callback is not None:
        return callback.phone
    if handoff.attempt_id is not None:
        destination: str | None = session.scalar(
            select(ContactAttempt.destination).where(ContactAttempt.id == handoff.attempt_id)
        )
        return destination
    caller: str | None = getattr(handoff, "caller_number", None)
    return caller


def _finish_callback(
    session: Session,
    callback: CallbackRequest,
    request: OutcomeRequest,
    window: CallingWindow,
    moment: datetime,
) -> None:
    if callback.completed_at is not None:
        return
    if request.outcome is Outcome.NO_ANSWER:
        # Back on the list for anyone, a little later.
        callback.claimed_by_handler_id = None
        callback.claimed_at = None
        callback.due_at = window.next_open(moment + RETRY_AFTER)
        return
    callback.completed_at = moment
    callback.outcome = request.outcome.value


def complete_callback(
    session: Session,
    handler_id: int,
    callback_id: int,
    request: OutcomeRequest,
    window: CallingWindow,
) -> OutcomeEffect:
    """The handler worked a callback request they claimed (rang from their own phone, or read
    an SMS reply): record the outcome and drive the journey, as for a handoff."""
    moment = now()
    lock_handler(session, handler_id)
    callback = session.get(CallbackRequest, callback_id, with_for_update=True)
    if callback is None:
        raise WorkNotFound(f"callback request {callback_id} does not exist")
    if callback.completed_at is not None:
        raise OutcomeConflict(f"callback request {callback_id} is already completed")
    if callback.claimed_by_handler_id != handler_id:
        raise OutcomeConflict(f"claim callback request {callback_id} before recording its outcome")
    effect = apply_outcome(
        session,
        callback.referral_id,
        request,
        number_used=callback.phone,
        window=window,
        at=moment,
    )
    _finish_callback(session, callback, request, window, moment)
    record_audit_event(
        session,
        actor_label=handler_actor(handler_id),
        action="callback.outcome",
        outcome="recorded",
        object_type="callback_request",
        object_id=callback_id,
        detail=_audit_detail(request, effect),
    )
    return effect
