"""Row rules: each problem rejects only its row and is reported with row, column and reason."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from rmc_outreach.config import Settings
from rmc_outreach.intake import EXIT_ACCEPTED, EXIT_ROWS_REJECTED
from rmc_outreach.models import Priority
from tests.intake.factories import worklist_row
from tests.intake.support import import_rows, problems_at, stored_patient, stored_referral

NO_ADDRESS = {"address_line_1": "", "address_line_2": "", "postcode": ""}

REJECTIONS = [
    pytest.param({"ubrn": "12345"}, "ubrn", "UBRN must be 12 digits", id="ubrn-short"),
    pytest.param({"ubrn": ""}, "ubrn", "UBRN is required", id="ubrn-blank"),
    pytest.param({"ubrn": "1.00000E+11"}, "ubrn", "scientific notation", id="ubrn-excel"),
    pytest.param({"nhs_number": "4010232138"}, "nhs_number", "check digit", id="nhs-check"),
    pytest.param({"nhs_number": "0000000000"}, "nhs_number", "outside the ranges", id="nhs-0"),
    pytest.param({"nhs_number": "99912"}, "nhs_number", "10 digits", id="nhs-short"),
    pytest.param({"nhs_number": " "}, "nhs_number", "NHS number is required", id="nhs-blank"),
    pytest.param({"given_name": ""}, "given_name", "given name is required", id="given-blank"),
    pytest.param({"given_name": "123"}, "given_name", "must contain a letter", id="no-letter"),
    pytest.param({"given_name": "A" * 101}, "given_name", "longer than 100", id="given-long"),
    pytest.param({"family_name": "Ok\u0007afor"}, "family_name", "control character", id="bell"),
    pytest.param(
        {"family_name": "\u202eOkafor"}, "family_name", "control character", id="bidi-override"
    ),
    pytest.param(
        {"date_of_birth": "28/11/2026"}, "date_of_birth", "in the future", id="born-tomorrow"
    ),
    pytest.param(
        {"date_of_birth": "26/11/1896"}, "date_of_birth", "more than 130 years", id="too-old"
    ),
    pytest.param({"date_of_birth": "01/02/61"}, "date_of_birth", "two-digit year", id="yy"),
    pytest.param(
        {"date_of_birth": "31/02/2000"}, "date_of_birth", "not a real calendar date", id="31feb"
    ),
    pytest.param(
        {"date_of_birth": "2000/01/02"}, "date_of_birth", "DD/MM/YYYY or YYYY-MM-DD", id="slashes"
    ),
    pytest.param({"date_of_birth": ""}, "date_of_birth", "required", id="born-blank"),
    pytest.param(
        {"referral_date": "2026-11-28"}, "referral_date", "in the future", id="referred-tomorrow"
    ),
    pytest.param(
        {"referral_date": "1950-01-01"}, "referral_date", "before the date of birth", id="order"
    ),
    pytest.param(
        {"mobile_phone": "01632 960001"}, "mobile_phone", "not a mobile", id="landline-as-mobile"
    ),
    pytest.param({"mobile_phone": "999"}, "mobile_phone", "emergency", id="mobile-999"),
    pytest.param({"mobile_phone": "0909 879 0001"}, "mobile_phone", "premium", id="premium"),
    pytest.param({"mobile_phone": "07700 900O01"}, "mobile_phone", "letters", id="letter-o"),
    pytest.param(
        {"landline_phone": "070 1234 5678"}, "landline_phone", "personal number", id="070"
    ),
    pytest.param(
        {"landline_phone": "+33 6 12 34 56 78"}, "landline_phone", "not a UK number", id="fr"
    ),
    pytest.param({"landline_phone": "07623 123456"}, "landline_phone", "pager", id="pager"),
    pytest.param({"landline_phone": "111"}, "landline_phone", "emergency", id="nhs-111"),
    pytest.param({"carer_phone": "112"}, "carer_phone", "emergency", id="carer-112"),
    pytest.param({"postcode": "LS1 4A"}, "postcode", "not a valid UK postcode", id="postcode"),
    pytest.param({"postcode": "QQ1 1AA"}, "postcode", "not a valid UK postcode", id="area-qq"),
    pytest.param({"priority": "soon"}, "priority", "routine, urgent or 2ww", id="priority"),
    pytest.param({"priority": ""}, "priority", "priority is required", id="priority-blank"),
    pytest.param({"no_sms": "maybe"}, "no_sms", "yes/no, true/false, 1/0, y/n", id="flag"),
    pytest.param({"large_print": "2"}, "large_print", "yes/no", id="flag-2"),
    pytest.param({"landline_only": "sometimes"}, "landline_only", "yes/no", id="flag-landline"),
    pytest.param({"language": "x" * 36}, "language", "longer than 35", id="language"),
    pytest.param(
        {"address_line_1": "x" * 101}, "address_line_1", "longer than 100", id="address-long"
    ),
    pytest.param({"specialty": ""}, "specialty", "specialty is required", id="specialty"),
    pytest.param({"specialty": "x" * 101}, "specialty", "longer than 100", id="specialty-long"),
    pytest.param(
        {**NO_ADDRESS, "letter_only": "yes"}, "letter_only", "no postal address", id="letter-only"
    ),
    pytest.param(
        {**NO_ADDRESS, "mobile_phone": "", "landline_phone": "", "carer_phone": ""},
        None,
        "no phone number and no postal address",
        id="unreachable",
    ),
    pytest.param(
        {**NO_ADDRESS, "landline_phone": "", "landline_only": "yes"},
        "landline_only",
        "no landline number and no postal address",
        id="landline-only-unreachable",
    ),
]


@pytest.mark.parametrize(("overrides", "column", "reason"), REJECTIONS)
def test_an_invalid_value_rejects_only_its_row_with_row_column_and_reason(
    settings: Settings, overrides: dict[str, str], column: str | None, reason: str
) -> None:
    rows = [worklist_row(0), worklist_row(1, **overrides), worklist_row(2)]
    report = import_rows(rows, settings)

    problems = problems_at(report)
    assert list(problems) == [(3, column)]
    assert reason in problems[(3, column)]
    for value in overrides.values():
        if len(value) > 3:
            assert value not in problems[(3, column)]  # reasons never repeat the value
    assert report.imported == 2
    assert report.exit_code == EXIT_ROWS_REJECTED


def test_several_problems_in_one_row_give_one_entry_per_column(settings: Settings) -> None:
    rows = [
        worklist_row(
            0,
            nhs_number="4010232138",
            given_name="",
            mobile_phone="01632 960001",
            postcode="nowhere",
            priority="asap",
        )
    ]
    report = import_rows(rows, settings)
    assert sorted(problems_at(report)) == [
        (2, "given_name"),
        (2, "mobile_phone"),
        (2, "nhs_number"),
        (2, "postcode"),
        (2, "priority"),
    ]
    assert report.rejected_rows == 1
    assert report.imported == 0


ACCEPTED = [
    pytest.param({"given_name": "Zoe\u0308"}, "given_name", "Zoë", id="nfc"),
    pytest.param({"given_name": " Mary \t Jane  "}, "given_name", "Mary Jane", id="spaces"),
    pytest.param({"family_name": "<b>O'Neil</b>"}, "family_name", "<b>O'Neil</b>", id="markup"),
    pytest.param({"date_of_birth": "1/2/1961"}, "date_of_birth", "1961-02-01", id="d/m/yyyy"),
    pytest.param({"date_of_birth": "1961-2-1"}, "date_of_birth", "1961-02-01", id="iso-short"),
    pytest.param(
        {"date_of_birth": "27/11/2026", "referral_date": "27/11/2026"},
        "date_of_birth",
        "2026-11-27",
        id="born-today",
    ),
    pytest.param({"date_of_birth": "27/11/1896"}, "date_of_birth", "1896-11-27", id="aged-130"),
    pytest.param({"postcode": "ls14ap"}, "postcode", "LS1 4AP", id="postcode-case"),
    pytest.param({"postcode": " SW1A1AA "}, "postcode", "SW1A 1AA", id="postcode-space"),
    pytest.param({"postcode": "gir 0aa"}, "postcode", "GIR 0AA", id="girobank"),
    pytest.param({"mobile_phone": "+44 7700 900 555"}, "mobile_phone", "+447700900555", id="+44"),
    pytest.param({"landline_phone": "07700 900777"}, "landline_phone", "+447700900777", id="mob"),
    pytest.param({"carer_phone": "020 7946 0555"}, "carer_phone", "+442079460555", id="carer"),
    pytest.param({"no_voicemail": "Y"}, "no_voicemail", True, id="flag-y"),
    pytest.param({"no_voicemail": "TRUE"}, "no_voicemail", True, id="flag-true"),
    pytest.param({"no_voicemail": "1"}, "no_voicemail", True, id="flag-1"),
    pytest.param({"no_voicemail": "yes "}, "no_voicemail", True, id="flag-yes"),
    pytest.param({"no_sms": "N"}, "no_sms", False, id="flag-n"),
    pytest.param({"no_sms": "0"}, "no_sms", False, id="flag-0"),
    pytest.param({"no_sms": "false"}, "no_sms", False, id="flag-false"),
    pytest.param({"large_print": ""}, "large_print", False, id="flag-blank"),
    pytest.param({"letter_only": "yes"}, "letter_only", True, id="letter-only"),
    pytest.param({"landline_only": "Y"}, "landline_only", True, id="landline-only"),
    pytest.param({"landline_only": "no"}, "landline_only", False, id="landline-only-no"),
    pytest.param({"language": " Polish "}, "language", "Polish", id="language"),
    pytest.param({"language": ""}, "language", None, id="no-language"),
    pytest.param({"priority": "Two Week Wait"}, "priority", Priority.TWO_WEEK_WAIT, id="2ww-words"),
    pytest.param({"priority": "two-week wait"}, "priority", Priority.TWO_WEEK_WAIT, id="2ww-dash"),
    pytest.param({"priority": "2WW"}, "priority", Priority.TWO_WEEK_WAIT, id="2ww"),
    pytest.param({"priority": "URGENT"}, "priority", Priority.URGENT, id="urgent"),
    pytest.param({"priority": " Routine"}, "priority", Priority.ROUTINE, id="routine"),
    pytest.param({"ubrn": "1000 0000 0042"}, "ubrn", "100000000042", id="ubrn-spaces"),
    pytest.param({"nhs_number": "999-000-0018"}, "nhs_number", "9990000018", id="nhs-hyphens"),
]


@pytest.mark.parametrize(("overrides", "column", "expected"), ACCEPTED)
def test_accepted_values_are_stored_normalised(
    settings: Settings, overrides: dict[str, str], column: str, expected: Any
) -> None:
    row = worklist_row(0, **overrides)
    report = import_rows([row], settings)
    assert report.rejected == []
    referral = stored_referral(row["ubrn"].replace(" ", ""))
    patient = stored_patient(row["nhs_number"].replace("-", ""))
    stored = getattr(referral if hasattr(referral, column) else patient, column)
    if hasattr(stored, "isoformat"):
        stored = stored.isoformat()
    assert stored == expected


@pytest.mark.parametrize(
    ("overrides", "column"),
    [
        pytest.param({"address_line_1": ""}, "address_line_1", id="no-first-line"),
        pytest.param({"postcode": ""}, "postcode", id="no-postcode"),
    ],
)
def test_a_row_without_a_postal_address_is_imported_with_a_warning(
    settings: Settings, overrides: dict[str, str], column: str
) -> None:
    report = import_rows([worklist_row(0), worklist_row(1, **overrides)], settings)
    assert report.exit_code == EXIT_ACCEPTED
    assert report.imported == 2
    assert [(w.row, w.column, w.warning) for w in report.warnings] == [
        (3, column, "no postal address: letters cannot be sent")
    ]


def test_landline_only_without_a_landline_is_imported_with_a_warning_that_a_letter_goes(
    settings: Settings,
) -> None:
    row = worklist_row(1, landline_phone="", landline_only="yes")
    report = import_rows([worklist_row(0), row], settings)

    assert report.exit_code == EXIT_ACCEPTED
    assert report.imported == 2
    ((warned_row, column, warning),) = [(w.row, w.column, w.warning) for w in report.warnings]
    assert (warned_row, column) == (3, "landline_only")
    assert "no landline number" in warning and "a letter is sent instead" in warning
    assert row["mobile_phone"] not in warning
    patient = stored_patient(row["nhs_number"])
    assert (patient.landline_only, patient.landline_phone) == (True, None)
    assert patient.mobile_phone is not None  # kept on record, never used


def test_landline_only_without_a_landline_or_address_but_with_a_carer_warns_twice(
    settings: Settings,
) -> None:
    row = worklist_row(
        0, **NO_ADDRESS, landline_phone="", landline_only="yes", carer_phone="0113 496 0998"
    )
    report = import_rows([row], settings)

    assert report.imported == 1
    warnings = {(w.column, w.warning) for w in report.warnings}
    assert {column for column, _ in warnings} == {"landline_only", "address_line_1"}
    assert not any("a letter is sent" in warning for _, warning in warnings)


@pytest.mark.parametrize(
    "overrides",
    [
        pytest.param({"landline_only": "yes"}, id="with-a-landline"),
        pytest.param(
            {"landline_only": "yes", "letter_only": "yes", "landline_phone": ""}, id="letter"
        ),
    ],
)
def test_landline_only_with_a_landline_or_letter_only_imports_without_a_warning(
    settings: Settings, overrides: dict[str, str]
) -> None:
    report = import_rows([worklist_row(0, **overrides)], settings)

    assert report.exit_code == EXIT_ACCEPTED
    assert report.warnings == []


def test_a_row_with_only_a_carer_phone_can_still_be_contacted(settings: Settings) -> None:
    row = worklist_row(
        0, **NO_ADDRESS, mobile_phone="", landline_phone="", carer_phone="0113 496 0999"
    )
    report = import_rows([row], settings)
    assert report.imported == 1
    assert stored_patient(row["nhs_number"]).carer_phone == "+441134960999"


def test_production_refuses_test_nhs_numbers_and_drama_phone_numbers(settings: Settings) -> None:
    production = dataclasses.replace(settings, mode="production")
    rows = [
        worklist_row(0, mobile_phone="07911 123456", landline_phone=""),
        worklist_row(1, nhs_number="4010232137", mobile_phone="", landline_phone="07700 900001"),
        worklist_row(2, nhs_number="4010232137", mobile_phone="07911 123456", landline_phone=""),
    ]
    rows[2]["ubrn"] = "200000000002"
    report = import_rows(rows, production)
    problems = problems_at(report)
    assert "999 test range" in problems[(2, "nhs_number")]
    assert "fictional Ofcom drama number" in problems[(3, "landline_phone")]
    assert (4, "nhs_number") not in problems
    assert sorted(problems) == [(2, "nhs_number"), (3, "landline_phone")]
    assert report.imported == 1
