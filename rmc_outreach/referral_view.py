"""One referral as staff see it: the patient (masked), the referral, its timeline; every look
audited (``referral.view``), and a clear identifier only on request (``referral.reveal``).

A reveal names the field (``REVEALABLE``), never carries the value, and is written to the audit
trail in the same transaction that reads the value: no reveal goes unrecorded.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy.orm import Session

from rmc_outreach.audit import record_audit_event
from rmc_outreach.identifiers import format_nhs_number, mask_nhs_number
from rmc_outreach.models import Channel, Patient, Priority, Referral, ReferralStatus
from rmc_outreach.phones import format_national, mask_phone
from rmc_outreach.sign_in import user_actor
from rmc_outreach.timeline import RecentView, TimelineEntry, recent_views, referral_timeline

VIEW_ACTION = "referral.view"
REVEAL_ACTION = "referral.reveal"
# Fields a reveal may show, and how each is named on the page.
REVEALABLE = {
    "nhs_number": "NHS number",
    "mobile_phone": "Mobile",
    "landline_phone": "Landline",
    "carer_phone": "Carer's phone",
}


class RevealRefused(ValueError):
    """A reveal that cannot be done (unknown field, or nothing stored there)."""


@dataclass(frozen=True)
class Identifier:
    """A masked identifier and the field a reveal names."""

    field: str
    label: str
    masked: str


@dataclass(frozen=True)
class ContactNeeds:
    """The patient's flags and opt-outs, as they stand."""

    no_voicemail: bool
    no_sms: bool
    letter_only: bool
    landline_only: bool
    large_print: bool
    language: str | None
    sms_opted_out_at: datetime | None
    sms_opt_out_source: str | None
    contact_opted_out_at: datetime | None
    contact_opt_out_source: str | None
    has_postal_address: bool
    has_landline: bool


@dataclass(frozen=True)
class ReferralPage:
    """Everything the referral page shows, masked."""

    referral_id: int
    patient_id: int
    ubrn: str
    patient_name: str
    date_of_birth: date
    identifiers: list[Identifier]
    needs: ContactNeeds
    priority: Priority
    status: ReferralStatus
    specialty: str
    referral_date: date
    journey_step: int
    next_channel: Channel | None
    next_action_at: datetime | None
    reached_at: datetime | None
    reached_by: Channel | None
    journey_end_reason: str | None
    paused_at: datetime | None
    pause_reason: str | None
    timeline: list[TimelineEntry]
    views: list[RecentView]

    @property
    def is_open(self) -> bool:
        """Waiting or in outreach: automation may still contact the patient."""
        return self.status in (ReferralStatus.WAITING, ReferralStatus.IN_OUTREACH)


def _identifiers(patient: Patient) -> list[Identifier]:
    found = [
        Identifier("nhs_number", REVEALABLE["nhs_number"], mask_nhs_number(patient.nhs_number))
    ]
    for field in ("mobile_phone", "landline_phone", "carer_phone"):
        value = getattr(patient, field)
        if value:
            found.append(Identifier(field, REVEALABLE[field], mask_phone(value)))
    return found


def _needs(patient: Patient) -> ContactNeeds:
    return ContactNeeds(
        no_voicemail=patient.no_voicemail,
        no_sms=patient.no_sms,
        letter_only=patient.letter_only,
        landline_only=patient.landline_only,
        large_print=patient.large_print,
        language=patient.language,
        sms_opted_out_at=patient.sms_opted_out_at,
        sms_opt_out_source=patient.sms_opt_out_source,
        contact_opted_out_at=patient.contact_opted_out_at,
        contact_opt_out_source=patient.contact_opt_out_source,
        has_postal_address=patient.has_postal_address,
        has_landline=bool(patient.landline_phone),
    )


def load_referral_page(session: Session, referral_id: int) -> ReferralPage | None:
    """The referral's page, or None when there is no such referral. Records nothing."""
    referral = session.get(Referral, referral_id)
    if referral is None:
        return None
    patient = referral.patient
    return ReferralPage(
        referral_id=referral.id,
        patient_id=patient.id,
        ubrn=referral.ubrn,
        patient_name=f"{patient.given_name} {patient.family_name}",
        date_of_birth=patient.date_of_birth,
        identifiers=_identifiers(patient),
        needs=_needs(patient),
        priority=referral.priority,
        status=referral.status,
        specialty=referral.specialty,
        referral_date=referral.referral_date,
        journey_step=referral.journey_step,
        next_channel=referral.next_channel,
        next_action_at=referral.next_action_at,
        reached_at=referral.reached_at,
        reached_by=referral.reached_by,
        journey_end_reason=referral.journey_end_reason,
        paused_at=referral.outreach_paused_at,
        pause_reason=referral.outreach_pause_reason,
        timeline=referral_timeline(session, referral),
        views=recent_views(session, referral.id),
    )


def record_view(session: Session, referral_id: int, user_id: int) -> None:
    """Audit a look at the referral's page (ids only)."""
    record_audit_event(
        session,
        actor_label=user_actor(user_id),
        actor_user_id=user_id,
        action=VIEW_ACTION,
        outcome="viewed",
        object_type="referral",
        object_id=referral_id,
    )


def reveal(session: Session, referral_id: int, field: str, user_id: int) -> tuple[str, str]:
    """The clear value of one identifier, as (label, value written as people write it), with
    the reveal audited in this transaction. Raises ``RevealRefused``, ``LookupError``."""
    if field not in REVEALABLE:
        raise RevealRefused("choose the NHS number or one of the phone numbers to reveal")
    referral = session.get(Referral, referral_id)
    if referral is None:
        raise LookupError(f"no referral {referral_id}")
    value = getattr(referral.patient, field)
    if not value:
        raise RevealRefused(f"there is no {REVEALABLE[field].lower()} on this record")
    record_audit_event(
        session,
        actor_label=user_actor(user_id),
        actor_user_id=user_id,
        action=REVEAL_ACTION,
        outcome="revealed",
        object_type="referral",
        object_id=referral_id,
        detail={"field": field},
    )
    shown = format_nhs_number(value) if field == "nhs_number" else format_national(value)
    return REVEALABLE[field], shown
