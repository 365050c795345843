"""Test data for letters: referrals at their letter step, and reading a batch's files back."""

from __future__ import annotations

import csv
import io
import uuid
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from rmc_outreach.clock import now
from rmc_outreach.models import AttemptState, Channel, ContactAttempt, PrintBatch, Referral
from tests.factories import create_patient, create_referral

LETTER_STEP = 5


def create_letter_attempt(
    session: Session, *, referral: Referral | None = None, **patient_overrides: Any
) -> ContactAttempt:
    """A claimed letter attempt for a new referral (and a new patient with the overrides)."""
    if referral is None:
        referral = create_referral(session, patient=create_patient(session, **patient_overrides))
    attempt = ContactAttempt(
        id=uuid.uuid4(),
        referral_id=referral.id,
        channel=Channel.LETTER,
        step=LETTER_STEP,
        state=AttemptState.CLAIMED,
        claimed_at=now(),
    )
    session.add(attempt)
    session.flush()
    return attempt


def manifest_rows(batch: PrintBatch) -> list[dict[str, str]]:
    """The batch manifest's rows as dictionaries."""
    text = Path(batch.manifest_path).read_text(encoding="utf-8")
    return list(csv.DictReader(io.StringIO(text)))
