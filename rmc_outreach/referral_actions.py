"""What a supervisor or admin may do to one referral, each with a reason, each audited.

Every action runs in the caller's transaction, locks the referral (and the patient, when it
changes the patient) first, checks the current state, and raises before writing anything when it
cannot apply: ``ActionRefused`` for input (naming the form field), ``ActionConflict`` when the
referral is not in a state the action applies to. Reasons are stored with number-like runs
removed (``rmc_outreach.redaction``): no phone or NHS number in the audit trail.

- **pause / resume** (``referral.pause``, ``referral.resume``): open referrals only. Sets or
  clears ``referral.outreach_paused_at``: dispatch claims no step of a paused referral and a
  worker that finds its referral paused defers the attempt (``outreach``). A call already
  ringing finishes; nothing new starts until resumed.
- **booked / declined** (``referral.booked``, ``referral.declined``): the handlers' own
  journey-ending code (``handoff_outcomes.apply_outcome``): every channel stops, pending letters
  are cancelled, open callback requests close.
- **do not contact** (``patient.do_not_contact``): the patient's contact opt-out is recorded and
  each of their open referrals stops every channel and is handed back to people (exhausted,
  ``contact_opted_out``).
- **preferences** (``patient.preferences``): contact flags, preferred language and the SMS and
  contact opt-outs; the audit event lists each change as ``[before, after]``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from rmc_outreach.audit import record_audit_event
from rmc_outreach.calendar import CallingWindow
from rmc_outreach.clock import now
from rmc_outreach.handoff_outcomes import (
    WORKABLE_STATUSES,
    Outcome,
    OutcomeConflict,
    OutcomeRequest,
    apply_outcome,
)
from rmc_outreach.models import OPEN_REFERRAL_STATUSES, Patient, Referral, ReferralStatus
from rmc_outreach.progress import end_journey, open_referral_ids_of, stop_all_channels
from rmc_outreach.redaction import redact_numbers
from rmc_outreach.sign_in import user_actor

REASON_MIN_CHARS = 3
REASON_MAX_CHARS = 200
LANGUAGE_MAX_CHARS = 35
STAFF_SOURCE = "staff"
CONTACT_OPT_OUT_REASON = "contact_opted_out"


class ActionRefused(ValueError):
    """Input that cannot be accepted; ``field`` names the form field."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


class ActionConflict(Exception):
    """The referral is not in a state this action applies to."""


class ReferralNotFound(LookupError):
    """No referral has this id."""


def parse_reason(raw: object) -> str:
    """The reason typed, whitespace collapsed, numbers removed; ``ActionRefused`` if missing."""
    reason = " ".join(str(raw or "").split())
    if len(reason) < REASON_MIN_CHARS:
        raise ActionRefused("reason", "give a reason (a few words: it goes in the audit trail)")
    if len(reason) > REASON_MAX_CHARS:
        raise ActionRefused("reason", f"the reason must be at most {REASON_MAX_CHARS} characters")
    return redact_numbers(reason)


def _lock_referral(session: Session, referral_id: int) -> Referral:
    referral = session.scalars(
        select(Referral)
        .where(Referral.id == referral_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).first()
    if referral is None:
        raise ReferralNotFound(f"no referral {referral_id}")
    return referral


def _lock_patient(session: Session, patient_id: int) -> Patient:
    return session.scalars(
        select(Patient)
        .where(Patient.id == patient_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).one()


def _audit(
    session: Session,
    user_id: int,
    *,
    action: str,
    object_type: str,
    object_id: int,
    detail: dict[str, Any],
) -> None:
    record_audit_event(
        session,
        actor_label=user_actor(user_id),
        actor_user_id=user_id,
        action=action,
        outcome="success",
        object_type=object_type,
        object_id=object_id,
        detail=detail,
    )


def pause_outreach(session: Session, referral_id: int, reason: str, user_id: int) -> None:
    """Stop automated contact for this referral until resumed (module docstring)."""
    referral = _lock_referral(session, referral_id)
    if referral.status not in OPEN_REFERRAL_STATUSES:
        raise ActionConflict(
            f"This referral is {referral.status.value.replace('_', ' ')}: only a waiting "
            "referral or one in outreach can be paused."
        )
    if referral.outreach_paused_at is not None:
        raise ActionConflict("Outreach for this referral is already paused.")
    referral.outreach_paused_at = now()
    referral.outreach_pause_reason = reason
    _audit(
        session,
        user_id,
        action="referral.pause",
        object_type="referral",
        object_id=referral_id,
        detail={"reason": reason},
    )


def resume_outreach(session: Session, referral_id: int, reason: str, user_id: int) -> None:
    """Let automated contact go on from where the journey stood."""
    referral = _lock_referral(session, referral_id)
    if referral.outreach_paused_at is None:
        raise ActionConflict("Outreach for this referral is not paused.")
    referral.outreach_paused_at = None
    referral.outreach_pause_reason = None
    _audit(
        session,
        user_id,
        action="referral.resume",
        object_type="referral",
        object_id=referral_id,
        detail={"reason": reason},
    )


def mark_settled(
    session: Session,
    referral_id: int,
    status: ReferralStatus,
    *,
    reason: str,
    user_id: int,
    window: CallingWindow,
) -> None:
    """Booked or declined, recorded by staff: the journey ends and every channel stops."""
    outcomes = {ReferralStatus.BOOKED: Outcome.BOOKED, ReferralStatus.DECLINED: Outcome.DECLINED}
    if status not in outcomes:
        raise ValueError("a referral is settled as booked or declined")
    referral = _lock_referral(session, referral_id)
    before = referral.status
    if before not in WORKABLE_STATUSES:
        raise ActionConflict(
            f"This referral is already {before.value.replace('_', ' ')}: it cannot be marked "
            f"{status.value}."
        )
    try:
        apply_outcome(
            session,
            referral_id,
            OutcomeRequest(outcomes[status], note=reason),
            number_used=None,
            window=window,
        )
    except OutcomeConflict as error:
        raise ActionConflict(str(error)) from error
    referral.outreach_paused_at = None
    referral.outreach_pause_reason = None
    _audit(
        session,
        user_id,
        action=f"referral.{status.value}",
        object_type="referral",
        object_id=referral_id,
        detail={"reason": reason, "changed": {"status": [before.value, status.value]}},
    )


def _hand_back_open_referrals(session: Session, patient_id: int) -> list[int]:
    """Every open referral of the patient stops all channels and goes back to people."""
    handed_back = []
    for open_id in open_referral_ids_of(session, [patient_id]):
        referral = _lock_referral(session, open_id)
        if referral.status not in OPEN_REFERRAL_STATUSES:
            continue
        stop_all_channels(session, open_id, reason=CONTACT_OPT_OUT_REASON)
        end_journey(session, referral, CONTACT_OPT_OUT_REASON)
        handed_back.append(open_id)
    return handed_back


def do_not_contact(session: Session, referral_id: int, reason: str, user_id: int) -> list[int]:
    """Record that the patient asked not to be contacted; returns the referrals handed back."""
    referral = _lock_referral(session, referral_id)
    patient = _lock_patient(session, referral.patient_id)
    if patient.contact_opted_out_at is not None:
        raise ActionConflict("This patient has already asked not to be contacted.")
    patient.contact_opted_out_at = now()
    patient.contact_opt_out_source = STAFF_SOURCE
    handed_back = _hand_back_open_referrals(session, patient.id)
    _audit(
        session,
        user_id,
        action="patient.do_not_contact",
        object_type="patient",
        object_id=patient.id,
        detail={"reason": reason, "referral_id": referral_id, "referrals_handed_back": handed_back},
    )
    return handed_back


@dataclass(frozen=True)
class Preferences:
    """The patient's contact preferences as a form sets them."""

    no_voicemail: bool
    no_sms: bool
    letter_only: bool
    landline_only: bool
    large_print: bool
    language: str | None
    sms_opted_out: bool
    contact_opted_out: bool


def parse_preferences(form: Mapping[str, Any]) -> Preferences:
    """Checkboxes (present means yes) and the language; ``ActionRefused`` naming the field."""

    def ticked(name: str) -> bool:
        return str(form.get(name) or "") in ("on", "yes", "true", "1")

    language = " ".join(str(form.get("language") or "").split()) or None
    if language is not None and len(language) > LANGUAGE_MAX_CHARS:
        raise ActionRefused(
            "language", f"the language must be at most {LANGUAGE_MAX_CHARS} characters"
        )
    if language is not None and any(character.isdigit() for character in language):
        raise ActionRefused("language", "the language must be a name such as Polish or BSL")
    return Preferences(
        no_voicemail=ticked("no_voicemail"),
        no_sms=ticked("no_sms"),
        letter_only=ticked("letter_only"),
        landline_only=ticked("landline_only"),
        large_print=ticked("large_print"),
        language=language,
        sms_opted_out=ticked("sms_opted_out"),
        contact_opted_out=ticked("contact_opted_out"),
    )


def current_preferences(patient: Patient) -> Preferences:
    """The preferences stored for the patient."""
    return Preferences(
        no_voicemail=patient.no_voicemail,
        no_sms=patient.no_sms,
        letter_only=patient.letter_only,
        landline_only=patient.landline_only,
        large_print=patient.large_print,
        language=patient.language,
        sms_opted_out=patient.sms_opted_out_at is not None,
        contact_opted_out=patient.contact_opted_out_at is not None,
    )


def update_preferences(
    session: Session, referral_id: int, wanted: Preferences, reason: str, user_id: int
) -> dict[str, list[Any]]:
    """Apply the preferences; returns what changed as ``{field: [before, after]}``. Turning
    the contact opt-out on hands the patient's open referrals back to people, as
    ``do_not_contact`` does; turning it off lets new referrals be contacted (referrals already
    handed back stay with people)."""
    referral = _lock_referral(session, referral_id)
    patient = _lock_patient(session, referral.patient_id)
    before = current_preferences(patient)
    changed = {
        item.name: [getattr(before, item.name), getattr(wanted, item.name)]
        for item in fields(Preferences)
        if getattr(before, item.name) != getattr(wanted, item.name)
    }
    if not changed:
        raise ActionRefused("preferences", "nothing was changed: tick or untick a preference first")
    for name in (
        "no_voicemail",
        "no_sms",
        "letter_only",
        "landline_only",
        "large_print",
        "language",
    ):
        setattr(patient, name, getattr(wanted, name))
    moment = now()
    if "sms_opted_out" in changed:
        patient.sms_opted_out_at = moment if wanted.sms_opted_out else None
        patient.sms_opt_out_source = STAFF_SOURCE
    detail: dict[str, Any] = {"reason": reason, "referral_id": referral_id, "changed": changed}
    if "contact_opted_out" in changed:
        patient.contact_opted_out_at = moment if wanted.contact_opted_out else None
        patient.contact_opt_out_source = STAFF_SOURCE
        if wanted.contact_opted_out:
            detail["referrals_handed_back"] = _hand_back_open_referrals(session, patient.id)
    _audit(
        session,
        user_id,
        action="patient.preferences",
        object_type="patient",
        object_id=patient.id,
        detail=detail,
    )
    return changed
