"""Factories for synthetic worklists: 999-range NHS numbers and Ofcom drama phone numbers only."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Mapping

from rmc_outreach.identifiers import nhs_check_digit
from rmc_outreach.intake.columns import OPTIONAL_COLUMNS, REQUIRED_COLUMNS

HEADER: tuple[str, ...] = REQUIRED_COLUMNS + OPTIONAL_COLUMNS


def synthetic_nhs_number(index: int) -> str:
    """The index-th valid NHS number in the 999 test range."""
    body = 999_000_000 + index * 7
    while True:
        first_nine = str(body)
        check = nhs_check_digit(first_nine)
        if check is not None:
            return first_nine + str(check)
        body += 1


def synthetic_ubrn(index: int) -> str:
    """A 12-digit UBRN unique per index."""
    return f"{100_000_000_000 + index:012d}"


def worklist_row(index: int = 0, **overrides: str) -> dict[str, str]:
    """One valid worklist row; keyword arguments replace columns."""
    row = {
        "ubrn": synthetic_ubrn(index),
        "nhs_number": synthetic_nhs_number(index),
        "given_name": "Amara",
        "family_name": "Okafor",
        "date_of_birth": "14/03/1961",
        "mobile_phone": f"07700 900{index % 1000:03d}",
        "landline_phone": f"0113 496 {index % 1000:04d}",
        "address_line_1": "12 Example Street",
        "address_line_2": "Leeds",
        "address_line_3": "",
        "address_line_4": "",
        "address_line_5": "",
        "postcode": "LS1 4AP",
        "specialty": "Cardiology",
        "priority": "routine",
        "referral_date": "2026-10-01",
        "no_voicemail": "",
        "no_sms": "no",
        "letter_only": "",
        "landline_only": "",
        "large_print": "",
        "language": "",
        "carer_phone": "",
    }
    row.update(overrides)
    return row


def worklist_csv(
    rows: Iterable[Mapping[str, str]],
    *,
    header: Iterable[str] = HEADER,
    encoding: str = "utf-8",
    bom: bool = False,
) -> bytes:
    """The rows as CSV bytes under ``header`` (missing values blank, extra keys dropped)."""
    columns = list(header)
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(columns)
    for row in rows:
        writer.writerow([row.get(column, "") for column in columns])
    data = buffer.getvalue().encode(encoding)
    return (b"\xef\xbb\xbf" + data) if bom else data
