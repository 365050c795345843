"""The worklist's columns and how a header row maps onto them."""

from __future__ import annotations

import re
from dataclasses import dataclass

REQUIRED_COLUMNS: tuple[str, ...] = (
    "ubrn",
    "nhs_number",
    "given_name",
    "family_name",
    "date_of_birth",
    "mobile_phone",
    "landline_phone",
    "address_line_1",
    "address_line_2",
    "address_line_3",
    "address_line_4",
    "address_line_5",
    "postcode",
    "specialty",
    "priority",
    "referral_date",
)
FLAG_COLUMNS: tuple[str, ...] = (
    "no_voicemail",
    "no_sms",
    "letter_only",
    "landline_only",
    "large_print",
)
OPTIONAL_COLUMNS: tuple[str, ...] = (*FLAG_COLUMNS, "language", "carer_phone")
KNOWN_COLUMNS = frozenset(REQUIRED_COLUMNS + OPTIONAL_COLUMNS)

_SPACES = re.compile(r"\s+")
# Only names that look like column names are echoed in reports: a data row mistaken for a
# header must not copy a patient's details into the import history.
_SAFE_NAME = re.compile(r"^[a-z0-9_]{1,40}$")


class HeaderError(Exception):
    """The header row cannot be used; ``reasons`` lists every problem."""

    def __init__(self, reasons: list[str]) -> None:
        super().__init__("; ".join(reasons))
        self.reasons = reasons


@dataclass(frozen=True, slots=True)
class IgnoredColumn:
    """A header cell that is not one of ours: reported as a warning, its values never read."""

    label: str  # the normalised name, or "column F" when the name is not safe to repeat


@dataclass(frozen=True, slots=True)
class ColumnLayout:
    """Where each known column sits in a row, and which optional columns the file has."""

    positions: dict[str, int]
    width: int
    ignored: tuple[IgnoredColumn, ...]

    def has(self, column: str) -> bool:
        """True when the file has this column."""
        return column in self.positions


def normalise_header(cell: str) -> str:
    """A header cell as a column name: trimmed, lower case, runs of spaces as one underscore."""
    return _SPACES.sub("_", cell.strip().lower())


def spreadsheet_column(index: int) -> str:
    """The spreadsheet letter(s) of a 0-based column index: 0 -> A, 26 -> AA."""
    letters = ""
    index += 1
    while index:
        index, remainder = divmod(index - 1, 26)
        letters = chr(ord("A") + remainder) + letters
    return letters


def parse_header(cells: list[str]) -> ColumnLayout:
    """Map a header row to column positions; raise HeaderError for missing or repeated columns."""
    positions: dict[str, int] = {}
    repeated: dict[str, list[int]] = {}
    ignored: list[IgnoredColumn] = []
    for index, cell in enumerate(cells):
        name = normalise_header(cell)
        if not name:
            continue
        if name in KNOWN_COLUMNS:
            if name in positions:
                repeated.setdefault(name, [positions[name]]).append(index)
            else:
                positions[name] = index
        else:
            label = name if _SAFE_NAME.match(name) else f"column {spreadsheet_column(index)}"
            ignored.append(IgnoredColumn(label))
    missing = [name for name in REQUIRED_COLUMNS if name not in positions]
    reasons: list[str] = []
    if len(missing) == len(REQUIRED_COLUMNS):
        reasons.append(
            "the first row is not a header row: none of the expected column names were found "
            "(see the worklist format: ubrn, nhs_number, given_name, ...)"
        )
    elif missing:
        reasons.append("missing required columns: " + ", ".join(missing))
    for name, indexes in repeated.items():
        letters = ", ".join(spreadsheet_column(index) for index in indexes)
        reasons.append(f"column {name} appears more than once (columns {letters})")
    if reasons:
        raise HeaderError(reasons)
    return ColumnLayout(positions=positions, width=len(cells), ignored=tuple(ignored))
