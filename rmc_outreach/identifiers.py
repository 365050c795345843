"""NHS numbers and UBRNs: validation, normalisation, display and masking.

An NHS number is 10 digits; the tenth is a mod-11 check digit over the first nine (weights 10..2;
a remainder giving 10 means the number is invalid, 11 means 0). A number that passes the check must
also lie in a range issued to patients. The range ``999 000 0000``-``999 999 9999`` is reserved for
test data: accepted in development, refused in production.

A UBRN (Unique Booking Reference Number) is the 12-digit e-Referral Service reference.

Error messages never repeat the value they reject, so they can be stored and logged safely.
"""

from __future__ import annotations

import re
from operator import mul

NHS_NUMBER_LENGTH = 10
UBRN_LENGTH = 12

# Ranges of issued NHS numbers (first and last, inclusive), as 10-digit strings.
ISSUED_NHS_NUMBER_RANGES: tuple[tuple[str, str], ...] = (
    ("0101000000", "3112999999"),  # Scotland (CHI numbers; date-of-birth based)
    ("3200000000", "3999999999"),  # Northern Ireland (Health and Care numbers)
    ("4000000000", "4999999999"),  # England, Wales and the Isle of Man
    ("6000000000", "7999999999"),  # England, Wales and the Isle of Man
)
TEST_NHS_NUMBER_RANGE = ("9990000000", "9999999999")

_WEIGHTS = (10, 9, 8, 7, 6, 5, 4, 3, 2)
_SEPARATORS = re.compile(r"[\s\-]+")
_SCIENTIFIC_NOTATION = re.compile(r"^\d(?:\.\d+)?[eE]\+?\d+$")


class InvalidIdentifier(ValueError):
    """An NHS number or UBRN that cannot be accepted; ``reason`` says why, for a person to read."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def nhs_check_digit(first_nine: str) -> int | None:
    """The mod-11 check digit for nine digits, or None when no valid check digit exists."""
    if len(first_nine) != 9 or not (first_nine.isascii() and first_nine.isdigit()):
        raise ValueError("nhs_check_digit needs exactly nine digits")
    total: int = sum(map(mul, map(int, first_nine), _WEIGHTS))
    check = 11 - total % 11
    if check == 11:
        return 0
    if check == 10:
        return None
    return check


def _in_ranges(digits: str, ranges: tuple[tuple[str, str], ...]) -> bool:
    return any(first <= digits <= last for first, last in ranges)


def nhs_number_problem(digits: str, *, allow_test_range: bool) -> str | None:
    """Why 10 clean digits are not an acceptable NHS number, or None when they are."""
    if len(digits) != NHS_NUMBER_LENGTH or not digits.isascii() or not digits.isdigit():
        return "NHS number must be 10 digits"
    if nhs_check_digit(digits[:9]) != int(digits[9]):
        return "NHS number is not valid: the check digit does not match (mistyped?)"
    if _in_ranges(digits, (TEST_NHS_NUMBER_RANGE,)):
        if allow_test_range:
            return None
        return "NHS number is in the 999 test range, which is refused in production"
    if not _in_ranges(digits, ISSUED_NHS_NUMBER_RANGES):
        return "NHS number is outside the ranges issued to patients"
    return None


def is_valid_nhs_number(digits: str, *, allow_test_range: bool) -> bool:
    """True when ``digits`` (exactly 10 digits, no spaces) is an acceptable NHS number."""
    return nhs_number_problem(digits, allow_test_range=allow_test_range) is None


def _strip_separators(raw: str) -> str:
    return _SEPARATORS.sub("", raw)


def _looks_like_scientific_notation(raw: str) -> bool:
    return bool(_SCIENTIFIC_NOTATION.match(raw.strip()))


def normalise_nhs_number(raw: str, *, allow_test_range: bool = True) -> str:
    """The 10 digits of an NHS number typed with or without spaces or hyphens.

    Raises ``InvalidIdentifier`` (a ``ValueError``) with a reason when it is not acceptable.
    """
    digits = raw.replace(" ", "").replace("-", "")
    if not (digits.isascii() and digits.isdigit()):
        if not raw.strip():
            raise InvalidIdentifier("NHS number is required")
        if _looks_like_scientific_notation(raw):
            raise InvalidIdentifier(
                "NHS number was turned into a number in scientific notation by a spreadsheet; "
                "format the column as text"
            )
        digits = _strip_separators(raw)
        if not (digits.isascii() and digits.isdigit()):
            raise InvalidIdentifier("NHS number must contain only digits, spaces or hyphens")
    problem = nhs_number_problem(digits, allow_test_range=allow_test_range)
    if problem is not None:
        raise InvalidIdentifier(problem)
    return digits


def format_nhs_number(digits: str) -> str:
    """The NHS number as people write it: ``943 476 5919``."""
    return f"{digits[:3]} {digits[3:6]} {digits[6:]}"


def mask_nhs_number(digits: str) -> str:
    """The NHS number with all but the last four digits hidden: ``*** *** 5919``."""
    clean = _strip_separators(digits)
    return f"*** *** {clean[-4:]}" if len(clean) >= 4 else "*** *** ****"


def normalise_ubrn(raw: str) -> str:
    """The 12 digits of a UBRN typed with or without spaces.

    Raises ``InvalidIdentifier`` with a reason when it is not 12 digits.
    """
    if not raw.strip():
        raise InvalidIdentifier("UBRN is required")
    if _looks_like_scientific_notation(raw):
        raise InvalidIdentifier(
            "UBRN was turned into a number in scientific notation by a spreadsheet; "
            "format the column as text"
        )
    digits = "".join(raw.split())
    if len(digits) != UBRN_LENGTH or not (digits.isascii() and digits.isdigit()):
        raise InvalidIdentifier("UBRN must be 12 digits")
    return digits
