"""Small factory functions for test data: synthetic patients and referrals.

NHS numbers come from the 999 test range with a valid mod-11 check digit; phones from Ofcom's
drama ranges. Every call makes new, unique identifiers; pass keyword overrides for what a test
cares about. Rows are flushed (they have ids) but not committed: the caller's transaction decides.
"""

from __future__ import annotations

import itertools
import uuid
from datetime import date, timedelta
from typing import Any

from sqlalchemy.orm import Session

from rmc_outreach.clock import now
from rmc_outreach.models import (
    AttemptState,
    Channel,
    ContactAttempt,
    Patient,
    Priority,
    Referral,
    ReferralStatus,
)

_numbers = itertools.count(1)
_nhs_candidates = itertools.count(999_000_000)

GIVEN_NAMES = ("Amara", "Bartosz", "Siobhan", "Mohammed", "Priya", "Olumide", "Eilidh", "Chen")
FAMILY_NAMES = ("Okafor", "Kowalski", "O'Brien", "Hussain", "Patel", "Adeyemi", "MacLeod", "Wei")


def synthetic_nhs_number() -> str:
    """A new NHS number in the 999 test range with a valid check digit."""
    while True:
        first_nine = str(next(_nhs_candidates))
        weights = range(10, 1, -1)
        total = sum(int(digit) * weight for digit, weight in zip(first_nine, weights, strict=True))
        check = (11 - total % 11) % 11
        if check != 10:
            return first_nine + str(check)


def drama_mobile(number: int) -> str:
    """An Ofcom drama-range mobile (07700 900000-900999) in E.164."""
    return f"+447700900{number % 1000:03d}"


def drama_landline(number: int) -> str:
    """An Ofcom drama-range landline (01632 960000-960999) in E.164."""
    return f"+441632960{number % 1000:03d}"


def create_patient(session: Session, **overrides: Any) -> Patient:
    """A patient with a mobile, a postal address and no contact flags, unless overridden."""
    number = next(_numbers)
    values: dict[str, Any] = {
        "nhs_number": synthetic_nhs_number(),
        "given_name": GIVEN_NAMES[number % len(GIVEN_NAMES)],
        "family_name": FAMILY_NAMES[number % len(FAMILY_NAMES)],
        "date_of_birth": date(1950, 1, 1) + timedelta(days=number * 97 % 20000),
        "mobile_phone": drama_mobile(number),
        "landline_phone": None,
        "address_line_1": f"{number} Test Street",
        "address_line_2": "Leeds",
        "postcode": "LS1 4AP",
    }
    values.update(overrides)
    patient = Patient(**values)
    session.add(patient)
    session.flush()
    return patient


def create_referral(session: Session, patient: Patient | None = None, **overrides: Any) -> Referral:
    """A waiting routine referral with a new 12-digit UBRN (and a new patient unless given)."""
    number = next(_numbers)
    values: dict[str, Any] = {
        "ubrn": f"{100_000_000_000 + number:012d}",
        "patient": patient if patient is not None else create_patient(session),
        "specialty": "Cardiology",
        "priority": Priority.ROUTINE,
        "referral_date": now().date() - timedelta(days=14),
        "status": ReferralStatus.WAITING,
    }
    values.update(overrides)
    referral = Referral(**values)
    session.add(referral)
    session.flush()
    return referral


def create_attempt(session: Session, referral: Referral, **overrides: Any) -> ContactAttempt:
    """A pending call attempt for step 1 of the referral, to its patient's mobile, unless
    overridden (pass ``state``, ``channel``, ``step``, ``provider_sid``... as needed)."""
    values: dict[str, Any] = {
        "id": uuid.uuid4(),
        "referral_id": referral.id,
        "channel": Channel.CALL,
        "step": 1,
        "state": AttemptState.PENDING,
        "destination": referral.patient.mobile_phone or referral.patient.landline_phone,
        "created_at": now(),
    }
    values.update(overrides)
    attempt = ContactAttempt(**values)
    session.add(attempt)
    session.flush()
    return attempt
