"""Validators for one field each: return the clean value or raise FieldError with a reason.

Reasons are written for the person fixing the spreadsheet and never repeat the value itself, so
reports can be stored and logged without personal data.
"""

from __future__ import annotations

import re
import unicodedata
from datetime import date

from rmc_outreach.identifiers import InvalidIdentifier, normalise_nhs_number, normalise_ubrn
from rmc_outreach.models.states import Priority
from rmc_outreach.phones import InvalidPhoneNumber, PhoneKind, normalise_phone

NAME_MAX_LENGTH = 100
ADDRESS_LINE_MAX_LENGTH = 100
SPECIALTY_MAX_LENGTH = 100
LANGUAGE_MAX_LENGTH = 35
# Anything longer than this is refused before any other work on it.
RAW_FIELD_MAX_LENGTH = 1000
MAX_AGE_YEARS = 130

# C0 and C1 controls except tab, plus the invisible text-direction overrides.
_CONTROL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
_LETTER = re.compile(r"[^\W\d_]")
_DAY_FIRST = re.compile(r"^(\d{1,2})/(\d{1,2})/(\d{4})$", re.ASCII)
_ISO = re.compile(r"^(\d{4})-(\d{1,2})-(\d{1,2})$", re.ASCII)
_TWO_DIGIT_YEAR = re.compile(r"^\d{1,2}[/.\-]\d{1,2}[/.\-]\d{2}$", re.ASCII)
_POSTCODE = re.compile(
    r"^(?:GIR0AA|(?:[A-PR-UWYZ][0-9][0-9]?|[A-PR-UWYZ][A-HK-Y][0-9][0-9]?"
    r"|[A-PR-UWYZ][0-9][A-HJKPSTUW]|[A-PR-UWYZ][A-HK-Y][0-9][ABEHMNPRVWXY])"
    r"[0-9][ABD-HJLNP-UW-Z]{2})$"
)
_FLAG_VALUES = {
    "": False,
    "yes": True,
    "y": True,
    "true": True,
    "1": True,
    "no": False,
    "n": False,
    "false": False,
    "0": False,
}
_PRIORITIES = {
    "routine": Priority.ROUTINE,
    "urgent": Priority.URGENT,
    "2ww": Priority.TWO_WEEK_WAIT,
    "twoweekwait": Priority.TWO_WEEK_WAIT,
    "2weekwait": Priority.TWO_WEEK_WAIT,
}


class FieldError(ValueError):
    """A field value we cannot accept; ``reason`` is for a person to read."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def clean_text(raw: str, *, label: str, max_length: int, required: bool) -> str | None:
    """Trimmed, NFC, whitespace collapsed, no control characters; None when blank and optional."""
    if len(raw) > RAW_FIELD_MAX_LENGTH:
        raise FieldError(f"{label} is longer than {max_length} characters")
    if _CONTROL.search(raw):
        raise FieldError(f"{label} contains a line break or another control character")
    text = " ".join(raw.split())
    if not text.isascii():
        text = unicodedata.normalize("NFC", text)
    if not text:
        if required:
            raise FieldError(f"{label} is required")
        return None
    if len(text) > max_length:
        raise FieldError(f"{label} is longer than {max_length} characters")
    return text


def person_name(raw: str, *, label: str) -> str:
    """A required name: clean text with at least one letter, at most NAME_MAX_LENGTH long."""
    text = clean_text(raw, label=label, max_length=NAME_MAX_LENGTH, required=True)
    if text is None:  # pragma: no cover - required=True never returns None
        raise FieldError(f"{label} is required")
    if not _LETTER.search(text):
        raise FieldError(f"{label} must contain a letter")
    return text


def nhs_number(raw: str, *, production: bool) -> str:
    """10 digits with a valid check digit in an issued range (999 test range outside production)."""
    if len(raw) > 40:
        raise FieldError("NHS number must be 10 digits")
    try:
        return normalise_nhs_number(raw, allow_test_range=not production)
    except InvalidIdentifier as error:
        raise FieldError(error.reason) from None


def ubrn(raw: str) -> str:
    """The 12-digit Unique Booking Reference Number."""
    if len(raw) > 40:
        raise FieldError("UBRN must be 12 digits")
    try:
        return normalise_ubrn(raw)
    except InvalidIdentifier as error:
        raise FieldError(error.reason) from None


def calendar_date(raw: str, *, label: str) -> date:
    """A date written DD/MM/YYYY (one- or two-digit day and month) or YYYY-MM-DD."""
    text = raw.strip()
    if len(text) == 10 and text[4] == "-" and text[7] == "-":
        try:
            return date.fromisoformat(text)  # the common YYYY-MM-DD shape, parsed in C
        except ValueError:
            pass
    if not text:
        raise FieldError(f"{label} is required")
    match = _DAY_FIRST.match(text)
    if match is not None:
        day, month, year = (int(part) for part in match.groups())
    else:
        match = _ISO.match(text)
        if match is None:
            if _TWO_DIGIT_YEAR.match(text):
                raise FieldError(f"{label} has a two-digit year; write the year in full (YYYY)")
            raise FieldError(f"{label} must be a date written DD/MM/YYYY or YYYY-MM-DD")
        year, month, day = (int(part) for part in match.groups())
    try:
        return date(year, month, day)
    except ValueError:
        raise FieldError(f"{label} is not a real calendar date") from None


def date_of_birth(raw: str, *, today: date) -> date:
    """A birth date that is not in the future and not more than MAX_AGE_YEARS ago."""
    born = calendar_date(raw, label="date of birth")
    if born > today:
        raise FieldError("date of birth is in the future")
    if born.year < today.year - MAX_AGE_YEARS or (
        born.year == today.year - MAX_AGE_YEARS
        and (born.month, born.day) < (today.month, today.day)
    ):
        raise FieldError(f"date of birth is more than {MAX_AGE_YEARS} years ago")
    return born


def referral_date(raw: str, *, today: date) -> date:
    """The date of the referral: not in the future."""
    referred = calendar_date(raw, label="referral date")
    if referred > today:
        raise FieldError("referral date is in the future")
    return referred


def phone(raw: str, *, label: str, production: bool, mobile_required: bool) -> str | None:
    """An optional UK phone number as E.164; a mobile where SMS will be sent."""
    if not raw.strip():
        return None
    try:
        number = normalise_phone(raw, allow_fictional=not production)
    except InvalidPhoneNumber as error:
        raise FieldError(f"{label} {error.reason}") from None
    if mobile_required and number.kind is not PhoneKind.MOBILE:
        raise FieldError(
            f"{label} is not a mobile number (texts cannot be sent to it); "
            "put landlines in landline_phone"
        )
    return number.e164


def postcode(raw: str) -> str | None:
    """An optional UK postcode, upper case with one space before the last three characters."""
    if len(raw) > 20:
        raise FieldError("postcode is not a valid UK postcode")
    compact = "".join(raw.split()).upper()
    if not compact:
        return None
    if not _POSTCODE.match(compact):
        raise FieldError("postcode is not a valid UK postcode")
    return f"{compact[:-3]} {compact[-3:]}"


def flag(raw: str, *, label: str) -> bool:
    """yes/no, true/false, 1/0, y/n (any case) or blank (no)."""
    value = _FLAG_VALUES.get(raw.strip().lower())
    if value is None:
        raise FieldError(f"{label} must be yes/no, true/false, 1/0, y/n or blank")
    return value


def priority(raw: str) -> Priority:
    """routine, urgent or 2ww (also "two week wait"), any case."""
    key = "".join(raw.lower().replace("-", " ").split())
    if not key:
        raise FieldError("priority is required (routine, urgent or 2ww)")
    value = _PRIORITIES.get(key)
    if value is None:
        raise FieldError("priority must be routine, urgent or 2ww (two week wait)")
    return value
