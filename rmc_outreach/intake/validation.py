"""Validate every row of a worklist and the rows against each other (no database needed).

Each problem is reported once per column. Rows that contradict each other are all rejected: the
same UBRN on two rows, or one NHS number with different names or birth dates.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from rmc_outreach.intake import rules
from rmc_outreach.intake.columns import FLAG_COLUMNS, ColumnLayout
from rmc_outreach.intake.records import Identity, ReferralRow, identity_of
from rmc_outreach.intake.report import RowProblem, RowWarning

NO_POSTAL_ADDRESS = "no postal address: letters cannot be sent"
LANDLINE_ONLY_WITHOUT_LANDLINE = (
    "landline_only is set but there is no landline number: no automated calls or texts "
    "(the mobile is never used)"
)
LETTER_INSTEAD = "; a letter is sent instead"
MAX_ROWS_NAMED = 5


@dataclass(frozen=True, slots=True)
class RowContext:
    """What validation needs besides the row: the columns, today's date and the mode."""

    layout: ColumnLayout
    today: date
    production: bool


@dataclass(slots=True)
class RowResult:
    """One row's outcome, with the keys that rows are compared by (None where invalid)."""

    record: ReferralRow | None
    problems: list[RowProblem]
    warnings: list[RowWarning]
    ubrn: str | None = None
    nhs_number: str | None = None
    identity: Identity | None = None


@dataclass(slots=True)
class ValidatedFile:
    """The accepted rows, the problems of the rejected ones, and warnings."""

    records: list[ReferralRow] = field(default_factory=list)
    problems: list[RowProblem] = field(default_factory=list)
    warnings: list[RowWarning] = field(default_factory=list)


Validator = Callable[[str], object]
_REQUIRED = object()
_BLANK_VALUES: dict[str, object] = {
    "mobile_phone": None,
    "landline_phone": None,
    "carer_phone": None,
    "postcode": None,
    "language": None,
    **{f"address_line_{number}": None for number in range(1, 6)},
    **dict.fromkeys(FLAG_COLUMNS, False),
}


def _text(label: str, max_length: int) -> Validator:
    return lambda raw: rules.clean_text(raw, label=label, max_length=max_length, required=False)


def _validators(context: RowContext) -> dict[str, Validator]:
    """One validator per column, bound to the file's settings once (closures, not partials:
    they are called two million times for a large file)."""
    production = context.production
    today = context.today
    validators: dict[str, Validator] = {
        "ubrn": rules.ubrn,
        "nhs_number": lambda raw: rules.nhs_number(raw, production=production),
        "given_name": lambda raw: rules.person_name(raw, label="given name"),
        "family_name": lambda raw: rules.person_name(raw, label="family name"),
        "date_of_birth": lambda raw: rules.date_of_birth(raw, today=today),
        "mobile_phone": lambda raw: rules.phone(
            raw, label="mobile phone", production=production, mobile_required=True
        ),
        "landline_phone": lambda raw: rules.phone(
            raw, label="landline phone", production=production, mobile_required=False
        ),
        "carer_phone": lambda raw: rules.phone(
            raw, label="carer phone", production=production, mobile_required=False
        ),
        "postcode": rules.postcode,
        "specialty": lambda raw: rules.clean_text(
            raw, label="specialty", max_length=rules.SPECIALTY_MAX_LENGTH, required=True
        ),
        "priority": rules.priority,
        "referral_date": lambda raw: rules.referral_date(raw, today=today),
        "language": _text("language", rules.LANGUAGE_MAX_LENGTH),
    }
    for number in range(1, 6):
        validators[f"address_line_{number}"] = _text(
            f"address line {number}", rules.ADDRESS_LINE_MAX_LENGTH
        )
    for column in FLAG_COLUMNS:
        validators[column] = _flag(column)
    return validators


def _flag(column: str) -> Validator:
    return lambda raw: rules.flag(raw, label=column)


class RowValidator:
    """Validates rows of one file: the column plan is worked out once, not per row."""

    def __init__(self, context: RowContext) -> None:
        positions = context.layout.positions
        self.width = context.layout.width
        # Optional columns have a value for an empty cell, so most blank cells cost nothing.
        self.plan = [
            (column, positions.get(column), validator, _BLANK_VALUES.get(column, _REQUIRED))
            for column, validator in _validators(context).items()
        ]

    def __call__(self, row: int, fields: list[str]) -> RowResult:
        """Validate one data row: the record (None if rejected), its problems and warnings."""
        if len(fields) != self.width:
            extra_blank = len(fields) > self.width and not any(
                value.strip() for value in fields[self.width :]
            )
            if not extra_blank:
                reason = f"row has {len(fields)} fields but the header has {self.width}"
                return RowResult(None, [RowProblem(row, None, reason)], [])
        values: dict[str, Any] = {}
        problems: list[RowProblem] = []
        for column, position, validator, blank_value in self.plan:
            raw = "" if position is None else fields[position]
            if not raw and blank_value is not _REQUIRED:
                values[column] = blank_value
                continue
            try:
                values[column] = validator(raw)
            except rules.FieldError as error:
                problems.append(RowProblem(row, column, error.reason))
                values[column] = None
        warnings = _cross_field_checks(row, values, problems)
        identity = None
        if values["given_name"] and values["family_name"] and values["date_of_birth"]:
            identity = identity_of(
                values["given_name"], values["family_name"], values["date_of_birth"]
            )
        if problems:
            return RowResult(None, problems, [], values["ubrn"], values["nhs_number"], identity)
        record = ReferralRow(row=row, **values)
        return RowResult(record, [], warnings, record.ubrn, record.nhs_number, identity)


def _cross_field_checks(
    row: int, values: dict[str, Any], problems: list[RowProblem]
) -> list[RowWarning]:
    """Rules across columns: dates in order, a way to reach the patient, letters need an address,
    landline only needs a landline (without one the patient gets the letter, as a patient with
    no phone does; with no address either, only a carer's phone is left for staff to use)."""
    failed = {problem.column for problem in problems}
    born = values["date_of_birth"]
    referred = values["referral_date"]
    if born is not None and referred is not None and referred < born:
        problems.append(
            RowProblem(row, "referral_date", "referral date is before the date of birth")
        )
    if "postcode" in failed or "address_line_1" in failed:
        return []
    has_address = bool(values["address_line_1"] and values["postcode"])
    phones_known = failed.isdisjoint(("mobile_phone", "landline_phone", "carer_phone"))
    warnings: list[RowWarning] = []
    if (
        values["landline_only"]
        and not values["letter_only"]
        and phones_known
        and not values["landline_phone"]
    ):
        if has_address or values["carer_phone"]:
            warning = LANDLINE_ONLY_WITHOUT_LANDLINE + (LETTER_INSTEAD if has_address else "")
            warnings.append(RowWarning(row, "landline_only", warning))
        elif values["mobile_phone"]:
            problems.append(
                RowProblem(
                    row,
                    "landline_only",
                    "landline_only is set but there is no landline number and no postal "
                    "address (address_line_1 and a valid postcode): the patient cannot be "
                    "contacted, the mobile is never used",
                )
            )
            return []
    if has_address:
        return warnings
    if values["letter_only"]:
        problems.append(
            RowProblem(
                row,
                "letter_only",
                "letter_only is set but there is no postal address "
                "(address_line_1 and a valid postcode)",
            )
        )
    if phones_known and not (
        values["mobile_phone"] or values["landline_phone"] or values["carer_phone"]
    ):
        problems.append(
            RowProblem(
                row, None, "no phone number and no postal address: the patient cannot be contacted"
            )
        )
    column = "postcode" if values["address_line_1"] else "address_line_1"
    return [*warnings, RowWarning(row, column, NO_POSTAL_ADDRESS)]


class _Consistency:
    """Collects UBRNs and NHS numbers across the file to find rows that contradict each other."""

    def __init__(self) -> None:
        self._ubrn_first: dict[str, int] = {}
        self._ubrn_repeats: dict[str, list[int]] = {}
        self._nhs_first: dict[str, tuple[Identity | None, int]] = {}
        self._nhs_repeats: dict[str, list[int]] = {}
        self._nhs_conflicts: set[str] = set()

    def add(self, result: RowResult, row: int) -> None:
        if result.ubrn is not None:
            first_row = self._ubrn_first.setdefault(result.ubrn, row)
            if first_row != row:
                self._ubrn_repeats.setdefault(result.ubrn, [first_row]).append(row)
        nhs_number = result.nhs_number
        if nhs_number is None:
            return
        seen = self._nhs_first.get(nhs_number)
        if seen is None:
            self._nhs_first[nhs_number] = (result.identity, row)
            return
        known_identity, first_row = seen
        self._nhs_repeats.setdefault(nhs_number, [first_row]).append(row)
        if result.identity is None:
            return
        if known_identity is None:
            self._nhs_first[nhs_number] = (result.identity, first_row)
        elif known_identity != result.identity:
            self._nhs_conflicts.add(nhs_number)

    def problems(self) -> Iterable[RowProblem]:
        for rows in self._ubrn_repeats.values():
            for row in rows:
                others = _row_list([other for other in rows if other != row])
                yield RowProblem(
                    row,
                    "ubrn",
                    f"the same UBRN is also on {others}: each referral must appear "
                    "once, so all of these rows are rejected",
                )
        for nhs_number in self._nhs_conflicts:
            rows = self._nhs_repeats[nhs_number]
            for row in rows:
                others = _row_list([other for other in rows if other != row])
                yield RowProblem(
                    row,
                    "nhs_number",
                    f"the same NHS number is also on {others} with a different "
                    "name or date of birth, so all of these rows are rejected",
                )


def _row_list(rows: list[int]) -> str:
    named = ", ".join(str(row) for row in rows[:MAX_ROWS_NAMED])
    more = f" and {len(rows) - MAX_ROWS_NAMED} more" if len(rows) > MAX_ROWS_NAMED else ""
    return ("row " if len(rows) == 1 else "rows ") + named + more


def validate_rows(rows: Iterable[tuple[int, list[str]]], context: RowContext) -> ValidatedFile:
    """Validate every row and the rows against each other; rejected rows keep no record."""
    validated = ValidatedFile()
    consistency = _Consistency()
    validate_row = RowValidator(context)
    for row, fields in rows:
        result = validate_row(row, fields)
        consistency.add(result, row)
        if result.record is not None:
            validated.records.append(result.record)
            validated.warnings.extend(result.warnings)
        else:
            validated.problems.extend(result.problems)
    contradictions = list(consistency.problems())
    if contradictions:
        validated.problems.extend(contradictions)
        rejected = {problem.row for problem in contradictions}
        validated.records = [record for record in validated.records if record.row not in rejected]
        validated.warnings = [
            warning for warning in validated.warnings if warning.row not in rejected
        ]
    return validated
