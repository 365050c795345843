"""The screen-pop: the referral in front of a handler while they talk to the patient.

Everything is read through indexes keyed by the one referral (``ix_referral_*`` by id,
``uq_contact_attempt_step`` whose leading column is ``referral_id``, ``handoff.referral_id``,
``callback_request.referral_id``), each with a LIMIT. The NHS number and phone numbers leave this
module masked; the patient's name is shown to the handler only (never logged, never audited).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from rmc_outreach.activity import callback_reason_label
from rmc_outreach.identifiers import mask_nhs_number
from rmc_outreach.models import (
    CallbackRequest,
    ContactAttempt,
    Handler,
    Handoff,
    Patient,
    Priority,
    Referral,
    ReferralStatus,
)
from rmc_outreach.phones import mask_phone
from rmc_outreach.queue_view import PRIORITY_LABELS, STATUS_LABELS

JOURNEY_LIMIT = 40  # per kind: attempts, handoffs, callback requests

CHANNEL_LABELS = {"call": "Call", "sms": "Text", "letter": "Letter"}
OUTCOME_WORDS = {
    "human_handoff": "Answered, asked for the booking team",
    "ivr_choice": "Answered, chose an option",
    "voicemail_left": "Voicemail left",
    "machine_no_message": "Answering machine, no message",
    "no_answer": "No answer",
    "busy": "Busy",
    "failed": "Failed",
    "canceled": "Cancelled",
    "delivered": "Delivered",
    "undelivered": "Not delivered",
    "replied": "Replied",
    "letter_printed": "Printed",
    "letter_cancelled": "Cancelled before printing",
}
HANDOFF_OUTCOME_WORDS = {
    "booked": "Booked",
    "declined": "Declined",
    "callback": "Call back later",
    "wrong_number": "Wrong number",
    "not_patient": "Not the patient",
    "other": "Other",
    "no_answer": "No answer",
    "callback_requested": "Asked for a call back while waiting",
    "reached_handler": "Reached a handler after all",
}


@dataclass(frozen=True)
class JourneyEntry:
    """One line of the journey history, newest first."""

    at: datetime
    kind: str  # attempt | handoff | callback
    what: str  # "Call", "Text", "Letter", "Handoff", "Call-back request"
    outcome: str
    handler: str | None = None
    note: str | None = None

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready (the note is the handler's own words, for handlers only)."""
        return {
            "at": self.at.isoformat(),
            "kind": self.kind,
            "what": self.what,
            "outcome": self.outcome,
            "handler": self.handler,
            "note": self.note,
        }


@dataclass(frozen=True)
class ReferralCard:
    """The referral as the handler sees it: masked NHS number, UBRN, clinical routing, flags."""

    referral_id: int
    ubrn: str
    nhs_number_masked: str
    specialty: str
    priority: Priority
    status: ReferralStatus
    flags: tuple[str, ...]
    phones_masked: tuple[tuple[str, str], ...]
    journey: tuple[JourneyEntry, ...]

    @property
    def priority_label(self) -> str:
        """2WW, Urgent or Routine."""
        return PRIORITY_LABELS[self.priority]

    @property
    def status_label(self) -> str:
        """The referral's status in words."""
        return STATUS_LABELS[self.status]

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready, masked."""
        return {
            "referral_id": self.referral_id,
            "ubrn": self.ubrn,
            "nhs_number_masked": self.nhs_number_masked,
            "specialty": self.specialty,
            "priority": self.priority.value,
            "priority_label": self.priority_label,
            "status": self.status.value,
            "status_label": self.status_label,
            "flags": list(self.flags),
            "phones": [{"kind": kind, "number": masked} for kind, masked in self.phones_masked],
            "journey": [entry.as_dict() for entry in self.journey],
        }


def contact_flags(patient: Patient) -> tuple[str, ...]:
    """The patient's contact needs and wishes, in words (the queue page's, plus carer)."""
    flags = [
        label
        for label, present in (
            ("Contact opted out", patient.contact_opted_out_at is not None),
            ("SMS opted out", patient.sms_opted_out_at is not None),
            ("Letter only", patient.letter_only),
            ("Landline only", patient.landline_only),
            ("No voicemail", patient.no_voicemail),
            ("No SMS", patient.no_sms),
            ("Large print", patient.large_print),
            ("Carer contact on record", bool(patient.carer_phone)),
        )
        if present
    ]
    if patient.language:
        flags.append(f"Language: {patient.language}")
    return tuple(flags)


def patient_name(patient: Patient) -> str:
    """The name the handler greets the patient by."""
    return f"{patient.given_name} {patient.family_name}"


def journey_history(session: Session, referral_id: int) -> tuple[JourneyEntry, ...]:
    """Attempts, handoffs (with handlers' notes) and callback requests, newest first."""
    entries: list[JourneyEntry] = []
    attempts = session.scalars(
        select(ContactAttempt)
        .where(ContactAttempt.referral_id == referral_id)
        .order_by(ContactAttempt.created_at.desc())
        .limit(JOURNEY_LIMIT)
    )
    for attempt in attempts:
        outcome = (
            OUTCOME_WORDS.get(attempt.outcome.value, attempt.outcome.value)
            if attempt.outcome is not None
            else f"Under way ({attempt.state.value})"
        )
        entries.append(
            JourneyEntry(
                at=attempt.started_at or attempt.claimed_at or attempt.created_at,
                kind="attempt",
                what=f"{CHANNEL_LABELS[attempt.channel.value]} (step {attempt.step})",
                outcome=outcome,
            )
        )
    handoffs = session.execute(
        select(Handoff, Handler.display_name)
        .outerjoin(Handler, Handler.id == Handoff.handler_id)
        .where(Handoff.referral_id == referral_id)
        .order_by(Handoff.queued_at.desc())
        .limit(JOURNEY_LIMIT)
    ).all()
    for handoff, handler_name in handoffs:
        entries.append(
            JourneyEntry(
                at=handoff.queued_at,
                kind="handoff",
                what="Handoff",
                outcome=_handoff_outcome(handoff),
                handler=handler_name,
                note=handoff.note,
            )
        )
    callbacks = session.scalars(
        select(CallbackRequest)
        .where(CallbackRequest.referral_id == referral_id)
        .order_by(CallbackRequest.created_at.desc())
        .limit(JOURNEY_LIMIT)
    )
    for callback in callbacks:
        state = (
            f"done: {HANDOFF_OUTCOME_WORDS.get(callback.outcome or '', callback.outcome or '')}"
            if callback.completed_at is not None
            else "open"
        )
        entries.append(
            JourneyEntry(
                at=callback.created_at,
                kind="callback",
                what="Call-back request",
                outcome=f"{callback_reason_label(callback.reason)} ({state})",
            )
        )
    entries.sort(key=lambda entry: entry.at, reverse=True)
    return tuple(entries)


def _handoff_outcome(handoff: Handoff) -> str:
    if handoff.outcome:
        return HANDOFF_OUTCOME_WORDS.get(handoff.outcome, handoff.outcome)
    if handoff.abandoned:
        return "No handler in time (abandoned)"
    if handoff.ended_at is not None:
        return "Ended, outcome not recorded yet"
    if handoff.connected_at is not None:
        return "Connected now"
    return "Waiting for a handler"


def referral_card(session: Session, referral_id: int) -> tuple[ReferralCard, str]:
    """The referral's card and the patient's name."""
    referral, patient = session.execute(
        select(Referral, Patient)
        .join(Patient, Patient.id == Referral.patient_id)
        .where(Referral.id == referral_id)
    ).one()
    phones = tuple(
        (kind, mask_phone(number))
        for kind, number in (
            ("Mobile", patient.mobile_phone),
            ("Landline", patient.landline_phone),
            ("Carer", patient.carer_phone),
        )
        if number
    )
    card = ReferralCard(
        referral_id=referral.id,
        ubrn=referral.ubrn,
        nhs_number_masked=mask_nhs_number(patient.nhs_number),
        specialty=referral.specialty,
        priority=referral.priority,
        status=referral.status,
        flags=contact_flags(patient),
        phones_masked=phones,
        journey=journey_history(session, referral.id),
    )
    return card, patient_name(patient)
