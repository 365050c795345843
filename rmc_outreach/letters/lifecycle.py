"""Preparing and cancelling letters (the cut in ``batch`` also cancels a letter it cannot print).

A letter is prepared for a letter attempt (at most one per attempt), waits as ``pending`` until
the day's print batch is cut, and can be cancelled until then. Attempts are finished through
``rmc_outreach.attempts`` so the journey moves on exactly as for calls and texts.
"""

from __future__ import annotations

import logging
import uuid
from datetime import date
from zoneinfo import ZoneInfo

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from rmc_outreach import attempts
from rmc_outreach.clock import now
from rmc_outreach.letters.content import patient_letter_context
from rmc_outreach.letters.layout import typography
from rmc_outreach.letters.render import address_font_size, render_letter_pdf
from rmc_outreach.messages import PublicContext
from rmc_outreach.models import (
    AttemptOutcome,
    AttemptState,
    Channel,
    ContactAttempt,
    Letter,
    LetterStatus,
    Patient,
    Referral,
)

log = logging.getLogger(__name__)

LONDON = ZoneInfo("Europe/London")


class LetterNotPossibleError(ValueError):
    """A letter cannot be prepared for this attempt; the message says why (no patient data)."""


def check_printable(patient: Patient, referral: Referral, *, large_print: bool) -> None:
    """Raise when the patient's name and address cannot be printed in the envelope window.

    Raises NoPostalAddressError, UnprintableTextError or AddressDoesNotFitError (all ValueError).
    """
    context = patient_letter_context(
        patient, referral, letter_date=now().date(), large_print=large_print
    )
    address_font_size(context.address_lines, typography(large_print).address)


def preview_letter_pdf(
    session: Session,
    letter_id: uuid.UUID,
    *,
    letter_date: date | None = None,
    public: PublicContext | None = None,
) -> bytes:
    """A letter's PDF as it would print (by default today in London), from current details."""
    letter = session.get_one(Letter, letter_id)
    referral = session.get_one(Referral, letter.referral_id)
    context = patient_letter_context(
        referral.patient,
        referral,
        letter_date=letter_date or now().astimezone(LONDON).date(),
        large_print=letter.large_print,
        public=public,
    )
    return render_letter_pdf(context)


def prepare_letter(session: Session, attempt_id: uuid.UUID) -> Letter:
    """Record a pending letter for a letter attempt, large print when the patient asks for it.

    Idempotent: a second call for the same attempt returns the same letter. Refuses
    (LetterNotPossibleError, NoPostalAddressError, UnprintableTextError, AddressDoesNotFitError)
    when the attempt is not a letter attempt, is already final without a letter, or the patient
    has no postal address that can be printed. Nothing is rendered yet: the letter is drawn from
    the patient's current details when its batch is cut. The attempt's state is left to the caller.
    """
    existing = session.scalar(select(Letter).where(Letter.attempt_id == attempt_id))
    if existing is not None:
        return existing
    attempt = session.get(ContactAttempt, attempt_id)
    if attempt is None:
        raise LetterNotPossibleError(f"no contact attempt {attempt_id}")
    if attempt.channel is not Channel.LETTER:
        raise LetterNotPossibleError(f"attempt {attempt_id} is a {attempt.channel} attempt")
    if attempt.state is AttemptState.FINAL:
        raise LetterNotPossibleError(f"attempt {attempt_id} is already final")
    referral = session.get_one(Referral, attempt.referral_id)
    patient = referral.patient
    check_printable(patient, referral, large_print=patient.large_print)
    letter = Letter(
        id=uuid.uuid4(),
        referral_id=referral.id,
        attempt_id=attempt_id,
        large_print=patient.large_print,
        status=LetterStatus.PENDING,
        created_at=now(),
    )
    try:
        with session.begin_nested():
            session.add(letter)
    except IntegrityError:
        # Another worker prepared it between our look-up and insert: theirs is the letter.
        log.info("letter for attempt %s was prepared concurrently", attempt_id)
        return session.scalars(select(Letter).where(Letter.attempt_id == attempt_id)).one()
    log.info("letter %s prepared for attempt %s", letter.id, attempt_id)
    return letter


def cancel_pending_letters(session: Session, referral_id: int, reason: str) -> int:
    """Cancel the referral's letters not yet cut into a batch; returns how many were cancelled.

    Their attempts become final with outcome ``letter_cancelled``. Printed letters are never
    touched: once a batch is cut, its letters are in the post.
    """
    cancelled = session.execute(
        update(Letter)
        .where(
            Letter.referral_id == referral_id,
            Letter.status == LetterStatus.PENDING,
            Letter.batch_id.is_(None),
        )
        .values(status=LetterStatus.CANCELLED, cancelled_at=now(), cancel_reason=reason[:200])
        .returning(Letter.id, Letter.attempt_id)
    ).all()
    for letter_id, attempt_id in cancelled:
        attempts.finish(
            session, attempt_id, AttemptOutcome.LETTER_CANCELLED, error_reason=reason[:200]
        )
        log.info("letter %s cancelled", letter_id)
    return len(cancelled)
