"""The validated row: one referral and its patient's details, ready to store."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from functools import lru_cache
from operator import attrgetter
from typing import Any

from rmc_outreach.models.states import Priority

# Patient columns a worklist may change on re-import (identity: NHS number, names, birth date).
PATIENT_CONTACT_FIELDS: tuple[str, ...] = (
    "given_name",
    "family_name",
    "mobile_phone",
    "landline_phone",
    "address_line_1",
    "address_line_2",
    "address_line_3",
    "address_line_4",
    "address_line_5",
    "postcode",
)
# Optional worklist columns: updated only when the file has the column.
PATIENT_OPTIONAL_FIELDS: tuple[str, ...] = (
    "carer_phone",
    "no_voicemail",
    "no_sms",
    "letter_only",
    "landline_only",
    "large_print",
    "language",
)
REFERRAL_FIELDS: tuple[str, ...] = ("specialty", "priority", "referral_date")

Identity = tuple[str, str, date]


@dataclass(slots=True)
class ReferralRow:
    """One accepted worklist row, every value clean (E.164 phones, normalised postcode)."""

    row: int
    ubrn: str
    nhs_number: str
    given_name: str
    family_name: str
    date_of_birth: date
    mobile_phone: str | None
    landline_phone: str | None
    carer_phone: str | None
    address_line_1: str | None
    address_line_2: str | None
    address_line_3: str | None
    address_line_4: str | None
    address_line_5: str | None
    postcode: str | None
    specialty: str
    priority: Priority
    referral_date: date
    no_voicemail: bool
    no_sms: bool
    letter_only: bool
    landline_only: bool
    large_print: bool
    language: str | None

    @property
    def identity(self) -> Identity:
        """Who the patient is, for comparing rows: names (case-insensitive) and birth date."""
        return identity_of(self.given_name, self.family_name, self.date_of_birth)

    def patient_values(self, fields: tuple[str, ...]) -> tuple[Any, ...]:
        """The values of the given patient fields, in order."""
        values: tuple[Any, ...] = _getter(fields)(self)
        return values

    def referral_values(self) -> tuple[Any, ...]:
        """The values of REFERRAL_FIELDS, in order."""
        return (self.specialty, self.priority, self.referral_date)


@lru_cache(maxsize=16)
def _getter(fields: tuple[str, ...]) -> attrgetter[Any]:
    if len(fields) < 2:  # pragma: no cover - attrgetter of one name returns a bare value
        raise ValueError("need at least two fields")
    return attrgetter(*fields)


def identity_of(given_name: str, family_name: str, date_of_birth: date) -> Identity:
    """The identity key of a patient: case-folded names and birth date."""
    return (given_name.casefold(), family_name.casefold(), date_of_birth)
