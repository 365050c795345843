"""NHS numbers and UBRNs: check digit, ranges, normalisation, display and masking."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rmc_outreach.identifiers import (
    InvalidIdentifier,
    format_nhs_number,
    is_valid_nhs_number,
    mask_nhs_number,
    nhs_check_digit,
    normalise_nhs_number,
    normalise_ubrn,
)

# 401 023 2137: a valid number in the England and Wales range (check digit 7).
ISSUED_EXAMPLE = "4010232137"


def _with_check_digit(first_nine: str) -> str | None:
    check = nhs_check_digit(first_nine)
    return None if check is None else first_nine + str(check)


@st.composite
def valid_nhs_numbers(draw: st.DrawFn) -> str:
    """Valid numbers from every issued range and the 999 test range."""
    prefix = draw(st.sampled_from(["4", "6", "7", "32", "35", "999"]))
    rest = draw(st.text("0123456789", min_size=9 - len(prefix), max_size=9 - len(prefix)))
    number = _with_check_digit(prefix + rest)
    if number is None:
        # Nine digits whose check would be 10 have no valid number; nudge the last digit.
        number = _with_check_digit(prefix + rest[:-1] + str((int(rest[-1]) + 1) % 10))
    assert number is not None
    return number


def test_a_valid_number_in_an_issued_range_is_accepted_outside_the_test_range() -> None:
    assert is_valid_nhs_number(ISSUED_EXAMPLE, allow_test_range=False)


def test_the_check_digit_is_eleven_minus_the_weighted_sum_modulo_eleven() -> None:
    # 9*10 + 4*9 + 3*8 + 4*7 + 7*6 + 6*5 + 5*4 + 9*3 + 1*2 = 299; 299 % 11 = 2; 11 - 2 = 9
    assert nhs_check_digit("943476591") == 9


def test_a_remainder_giving_eleven_makes_the_check_digit_zero() -> None:
    first_nine = next(
        f"4{index:08d}" for index in range(1000) if sum_is_multiple_of_eleven(f"4{index:08d}")
    )
    assert nhs_check_digit(first_nine) == 0


def sum_is_multiple_of_eleven(first_nine: str) -> bool:
    """True when the weighted sum of nine digits is divisible by 11."""
    return (
        sum(int(digit) * weight for digit, weight in zip(first_nine, range(10, 1, -1), strict=True))
        % 11
        == 0
    )


def test_nine_digits_whose_check_would_be_ten_have_no_valid_number() -> None:
    first_nine = next(
        f"4{index:08d}" for index in range(1000) if nhs_check_digit(f"4{index:08d}") is None
    )
    for last in "0123456789":
        assert not is_valid_nhs_number(first_nine + last, allow_test_range=True)


def test_all_zeros_passes_the_checksum_but_is_refused_as_never_issued() -> None:
    assert nhs_check_digit("000000000") == 0
    with pytest.raises(InvalidIdentifier, match="outside the ranges issued"):
        normalise_nhs_number("0000000000")


def test_numbers_outside_the_issued_ranges_are_refused() -> None:
    number = _with_check_digit("500000001") or _with_check_digit("500000002")
    assert number is not None
    assert not is_valid_nhs_number(number, allow_test_range=True)
    # 943 476 5919 has a valid check digit but belongs to NHS test environments, not patients.
    assert nhs_check_digit("943476591") == 9
    assert not is_valid_nhs_number("9434765919", allow_test_range=True)


def test_the_999_test_range_is_accepted_only_when_allowed() -> None:
    number = next(
        number
        for body in range(999_123_456, 999_123_470)
        if (number := _with_check_digit(str(body))) is not None
    )
    assert is_valid_nhs_number(number, allow_test_range=True)
    with pytest.raises(InvalidIdentifier, match="999 test range"):
        normalise_nhs_number(number, allow_test_range=False)


@pytest.mark.parametrize("typed", ["401 023 2137", "401-023-2137", " 4010232137 ", "401 0232137"])
def test_spaces_and_hyphens_are_removed_from_nhs_numbers(typed: str) -> None:
    assert normalise_nhs_number(typed, allow_test_range=False) == ISSUED_EXAMPLE


@pytest.mark.parametrize(
    ("typed", "reason"),
    [
        ("", "required"),
        ("401023213", "10 digits"),
        ("40102321370", "10 digits"),
        ("401023213O", "only digits"),
        ("4.01023E+09", "scientific notation"),
        ("4010232138", "check digit"),
    ],
)
def test_malformed_nhs_numbers_are_refused_with_a_reason(typed: str, reason: str) -> None:
    with pytest.raises(InvalidIdentifier, match=reason) as raised:
        normalise_nhs_number(typed)
    assert typed.strip() == "" or typed not in raised.value.reason


@given(number=valid_nhs_numbers(), position=st.integers(0, 9), shift=st.integers(1, 9))
def test_every_single_digit_change_of_a_valid_nhs_number_is_rejected(
    number: str, position: int, shift: int
) -> None:
    assert is_valid_nhs_number(number, allow_test_range=True)
    changed_digit = str((int(number[position]) + shift) % 10)
    mutated = number[:position] + changed_digit + number[position + 1 :]
    assert mutated != number
    assert not is_valid_nhs_number(mutated, allow_test_range=True)


def test_nhs_numbers_are_shown_in_three_groups_and_masked_to_the_last_four() -> None:
    assert format_nhs_number("9434765919") == "943 476 5919"
    assert mask_nhs_number("9434765919") == "*** *** 5919"
    assert mask_nhs_number("943 476 5919") == "*** *** 5919"


@pytest.mark.parametrize("typed", ["123456789012", "1234 5678 9012", " 123456789012 "])
def test_ubrns_are_twelve_digits_with_spaces_allowed(typed: str) -> None:
    assert normalise_ubrn(typed) == "123456789012"


@pytest.mark.parametrize(
    ("typed", "reason"),
    [
        ("", "required"),
        ("12345678901", "12 digits"),
        ("1234567890123", "12 digits"),
        ("12345678901A", "12 digits"),
        ("1234-5678-9012", "12 digits"),
        ("1.23457E+11", "scientific notation"),
    ],
)
def test_malformed_ubrns_are_refused_with_a_reason(typed: str, reason: str) -> None:
    with pytest.raises(InvalidIdentifier, match=reason):
        normalise_ubrn(typed)
