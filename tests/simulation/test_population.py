"""The synthetic worklist: deterministic, fictional by construction, realistic and always valid."""

from __future__ import annotations

import csv
import io
import re
from collections import Counter
from datetime import date, timedelta

import pytest

from rmc_outreach import clock
from rmc_outreach.config import Settings
from rmc_outreach.simulation import WORKLIST_COLUMNS, synthetic_worklist_csv

TODAY = date(2026, 11, 27)
LARGE = 6000
POSTCODE = re.compile(r"^[A-Z]{1,2}\d[A-Z\d]? ?\d[ABD-HJLNP-UW-Z]{2}$")
TRUE_SPELLINGS = {"yes", "y", "true", "1"}
FALSE_SPELLINGS = {"no", "n", "false", "0", ""}


def _rows(data: bytes) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(data.decode("utf-8"), newline="")))


@pytest.fixture(scope="module")
def large_rows() -> list[dict[str, str]]:
    return _rows(synthetic_worklist_csv(LARGE, seed=20261127, today=TODAY))


def _national_digits(phone: str) -> str:
    digits = re.sub(r"\D", "", phone)
    if phone.strip().startswith("+44"):
        return "0" + digits[2:]
    return digits


def _in_drama_range(phone: str) -> bool:
    digits = _national_digits(phone)
    return len(digits) == 11 and (
        digits.startswith("07700900")
        or digits.startswith("01632960")
        or digits.startswith("02079460")
        or digits.startswith("01134960")
    )


def _independent_check_digit(first_nine: str) -> int | None:
    remainder = sum(int(first_nine[i]) * (10 - i) for i in range(9)) % 11
    check = (11 - remainder) % 11
    return None if check == 10 else check


def _parse_date(text: str) -> date:
    if "/" in text:
        day, month, year = text.split("/")
        return date(int(year), int(month), int(day))
    return date.fromisoformat(text)


def _is_true(flag: str) -> bool:
    lowered = flag.strip().lower()
    assert lowered in TRUE_SPELLINGS | FALSE_SPELLINGS, flag
    return lowered in TRUE_SPELLINGS


def _share(rows: list[dict[str, str]], predicate: object) -> float:
    assert callable(predicate)
    return sum(1 for row in rows if predicate(row)) / len(rows)


def test_the_same_seed_gives_the_same_file_and_another_seed_a_different_one() -> None:
    first = synthetic_worklist_csv(200, seed=7, today=TODAY)
    assert synthetic_worklist_csv(200, seed=7, today=TODAY) == first
    assert synthetic_worklist_csv(200, seed=8, today=TODAY) != first


def test_the_file_has_exactly_the_worklist_header_and_the_rows_asked_for() -> None:
    data = synthetic_worklist_csv(25, seed=1, today=TODAY)
    header = data.decode("utf-8").split("\r\n", 1)[0]
    assert header == ",".join(WORKLIST_COLUMNS)
    assert header.startswith("ubrn,nhs_number,given_name,family_name,date_of_birth,mobile_phone")
    assert header.endswith(
        "referral_date,no_voicemail,no_sms,letter_only,landline_only,large_print,language,"
        "carer_phone"
    )
    assert len(_rows(data)) == 25
    assert _rows(synthetic_worklist_csv(0, seed=1, today=TODAY)) == []


def test_a_byte_order_mark_is_written_only_when_asked_for() -> None:
    assert synthetic_worklist_csv(3, seed=1, today=TODAY, bom=True).startswith(b"\xef\xbb\xbfubrn,")
    assert synthetic_worklist_csv(3, seed=1, today=TODAY).startswith(b"ubrn,")


def test_every_nhs_number_is_unique_in_the_999_range_with_a_valid_check_digit(
    large_rows: list[dict[str, str]],
) -> None:
    numbers = [row["nhs_number"].replace(" ", "") for row in large_rows]
    assert len(set(numbers)) == len(numbers)
    for number in numbers:
        assert re.fullmatch(r"999\d{7}", number), number
        assert _independent_check_digit(number[:9]) == int(number[9]), number


def test_every_ubrn_is_twelve_digits_and_unique(large_rows: list[dict[str, str]]) -> None:
    ubrns = [row["ubrn"] for row in large_rows]
    assert all(re.fullmatch(r"[1-9]\d{11}", ubrn) for ubrn in ubrns)
    assert len(set(ubrns)) == len(ubrns)


def test_every_phone_number_is_in_an_ofcom_drama_range_and_every_row_has_one(
    large_rows: list[dict[str, str]],
) -> None:
    for row in large_rows:
        assert row["mobile_phone"] or row["landline_phone"]
        if row["mobile_phone"]:
            assert _national_digits(row["mobile_phone"]).startswith("07700900")
        if row["landline_phone"]:
            assert not _national_digits(row["landline_phone"]).startswith("07")
        for column in ("mobile_phone", "landline_phone", "carer_phone"):
            if row[column]:
                assert _in_drama_range(row[column]), (column, row[column])


def test_phones_are_written_in_the_several_ways_worklists_write_them(
    large_rows: list[dict[str, str]],
) -> None:
    mobiles = {row["mobile_phone"] for row in large_rows if row["mobile_phone"]}
    assert any(re.fullmatch(r"07700 900\d{3}", phone) for phone in mobiles)
    assert any(re.fullmatch(r"07700900\d{3}", phone) for phone in mobiles)
    assert any(re.fullmatch(r"\+44 7700 900\d{3}", phone) for phone in mobiles)
    landline_areas = {_national_digits(row["landline_phone"])[:5] for row in large_rows}
    assert {"01632", "02079", "01134"} <= landline_areas


def test_no_date_is_in_the_future_and_referrals_are_from_the_last_120_days(
    large_rows: list[dict[str, str]],
) -> None:
    formats = Counter("/" in row["date_of_birth"] for row in large_rows)
    assert formats[True] > 0 and formats[False] > 0
    for row in large_rows:
        born = _parse_date(row["date_of_birth"])
        referred = _parse_date(row["referral_date"])
        assert born < TODAY
        assert TODAY - timedelta(days=120) <= referred <= TODAY
        assert born <= referred


def test_adults_are_18_to_98_and_the_few_children_have_a_carer_to_contact(
    large_rows: list[dict[str, str]],
) -> None:
    children = 0
    for row in large_rows:
        age = (TODAY - _parse_date(row["date_of_birth"])).days / 365.25
        if age < 18:
            children += 1
            assert row["carer_phone"], "a child must have a carer phone"
        else:
            assert age < 100
    assert 0 < children < LARGE * 0.05


def test_proportions_of_phones_flags_languages_and_priorities_are_roughly_as_intended(
    large_rows: list[dict[str, str]],
) -> None:
    def near(actual: float, expected: float) -> bool:
        return abs(actual - expected) <= max(0.02, expected * 0.35)

    assert near(_share(large_rows, lambda row: not row["mobile_phone"]), 0.15)
    assert near(_share(large_rows, lambda row: row["mobile_phone"] and row["landline_phone"]), 0.35)
    assert near(_share(large_rows, lambda row: _is_true(row["no_voicemail"])), 0.05)
    assert near(_share(large_rows, lambda row: _is_true(row["no_sms"])), 0.05)
    assert near(_share(large_rows, lambda row: _is_true(row["letter_only"])), 0.03)
    assert near(_share(large_rows, lambda row: _is_true(row["landline_only"])), 0.028)
    assert all(
        row["landline_phone"] and row["mobile_phone"]
        for row in large_rows
        if _is_true(row["landline_only"])
    ), "only patients with both phones ask for landline only"
    assert near(_share(large_rows, lambda row: _is_true(row["large_print"])), 0.04)
    assert near(_share(large_rows, lambda row: row["language"] not in ("", "English")), 0.06)
    assert near(_share(large_rows, lambda row: bool(row["carer_phone"])), 0.05)

    priorities = Counter(row["priority"].lower() for row in large_rows)
    assert set(priorities) == {"routine", "urgent", "2ww"}
    assert near(priorities["routine"] / LARGE, 0.70)
    assert near(priorities["urgent"] / LARGE, 0.20)
    assert near(priorities["2ww"] / LARGE, 0.10)
    assert len({row["priority"] for row in large_rows}) > 3, "priorities come in varied case"
    flag_spellings = {row["large_print"] for row in large_rows} | {
        row["no_sms"] for row in large_rows
    }
    assert {"", "yes", "Y", "true", "1"} <= flag_spellings


def test_two_week_wait_referrals_go_to_suspected_cancer_pathways(
    large_rows: list[dict[str, str]],
) -> None:
    cancer_pathways = {
        "Breast", "Colorectal", "Dermatology", "Gynaecology", "Urology", "Respiratory",
        "Upper GI", "Head and Neck", "Haematology",
    }  # fmt: skip
    two_week_wait = [row["specialty"] for row in large_rows if row["priority"].lower() == "2ww"]
    assert set(two_week_wait) <= cancer_pathways
    assert len({row["specialty"] for row in large_rows}) >= 12


def test_names_are_diverse_and_keep_apostrophes_hyphens_and_diacritics(
    large_rows: list[dict[str, str]],
) -> None:
    family_names = {row["family_name"] for row in large_rows}
    given_names = {row["given_name"] for row in large_rows}
    assert len(family_names) > 150 and len(given_names) > 200
    assert any("'" in name for name in family_names)
    assert any("-" in name for name in family_names)
    assert any(not name.isascii() for name in family_names)
    assert {"Nguyễn", "O'Brien", "Smith-Jones"} <= family_names
    assert {"Zoë", "Siân", "Łukasz"} <= given_names


def test_addresses_have_valid_postcodes_and_often_blank_trailing_lines(
    large_rows: list[dict[str, str]],
) -> None:
    for row in large_rows:
        assert row["address_line_1"]
        assert POSTCODE.match(row["postcode"]), row["postcode"]
    assert _share(large_rows, lambda row: not row["address_line_5"]) > 0.5
    assert _share(large_rows, lambda row: not row["address_line_3"]) > 0.2


def test_importing_generated_rows_accepts_every_one(settings: Settings) -> None:
    from rmc_outreach.intake import import_worklist

    # The UTC date is never ahead of the centre's (UK) date, so no row can look future-dated.
    data = synthetic_worklist_csv(300, seed=42, today=clock.now().date())
    report = import_worklist(
        data, filename="synthetic.csv", settings=settings, actor_label="test-population"
    )
    summary = report.as_json()
    assert summary["rejected"] == [], summary["rejected"][:5]
    assert summary["file_errors"] == []
    assert summary["imported"] == 300
    assert report.exit_code == 0
