"""UK phone numbers: E.164 normalisation, classification, refusals, drama ranges, masking."""

from __future__ import annotations

import phonenumbers
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from phonenumbers import PhoneNumberType

from rmc_outreach.phones import (
    DRAMA_LANDLINE_PREFIXES,
    InvalidPhoneNumber,
    PhoneKind,
    format_national,
    is_fictional,
    mask_phone,
    normalise_phone,
)


@pytest.mark.parametrize(
    "typed",
    [
        "07700 900123",
        "07700900123",
        "+44 7700 900123",
        "+447700900123",
        "+44 (0)7700 900123",
        "0044 7700 900 123",
        "07700-900-123",
        "(07700) 900123",
        "7700900123",
        "447700900123",
        "\u00a007700\u00a0900123 ",
    ],
)
def test_a_drama_mobile_typed_any_common_way_becomes_one_e164_mobile(typed: str) -> None:
    number = normalise_phone(typed, allow_fictional=True)
    assert number.e164 == "+447700900123"
    assert number.kind is PhoneKind.MOBILE
    assert number.sms_capable
    assert number.fictional


@pytest.mark.parametrize(
    ("typed", "e164"),
    [
        ("01632 960001", "+441632960001"),
        ("020 7946 0999", "+442079460999"),
        ("0113 496 0000", "+441134960000"),
        ("0115 496 0500", "+441154960500"),
        ("0161 496 0123", "+441614960123"),
        ("0191 498 0123", "+441914980123"),
        ("028 9649 6123", "+442896496123"),
        ("029 2018 0123", "+442920180123"),
    ],
)
def test_drama_landlines_are_voice_only_fictional_numbers(typed: str, e164: str) -> None:
    number = normalise_phone(typed, allow_fictional=True)
    assert (number.e164, number.kind, number.fictional) == (e164, PhoneKind.LANDLINE, True)
    assert not number.sms_capable
    assert is_fictional(e164)


@pytest.mark.parametrize("typed", ["07700 900123", "01632 960001", "020 7946 0001"])
def test_drama_numbers_are_refused_in_production(typed: str) -> None:
    with pytest.raises(InvalidPhoneNumber, match="fictional Ofcom drama number"):
        normalise_phone(typed, allow_fictional=False)


def test_real_uk_numbers_are_classified_by_phonenumbers_metadata() -> None:
    mobile = normalise_phone("07911 123456", allow_fictional=False)
    landline = normalise_phone("020 7123 4567", allow_fictional=False)
    non_geographic = normalise_phone("0300 123 4567", allow_fictional=False)
    assert (mobile.e164, mobile.kind, mobile.fictional) == (
        "+447911123456",
        PhoneKind.MOBILE,
        False,
    )
    assert (landline.e164, landline.kind) == ("+442071234567", PhoneKind.LANDLINE)
    assert non_geographic.kind is PhoneKind.LANDLINE


def test_channel_islands_and_isle_of_man_numbers_are_uk_numbers() -> None:
    assert normalise_phone("07781 123456", allow_fictional=False).kind is PhoneKind.MOBILE
    assert normalise_phone("07624 123456", allow_fictional=False).kind is PhoneKind.MOBILE
    assert normalise_phone("01534 123456", allow_fictional=False).kind is PhoneKind.LANDLINE


@pytest.mark.parametrize(
    ("typed", "reason"),
    [
        ("999", "emergency or service number"),
        ("112", "emergency or service number"),
        ("111", "emergency or service number"),
        ("101", "emergency or service number"),
        ("118118", "short code"),
        ("0909 879 0000", "premium-rate"),
        ("09012 345678", "premium-rate"),
        ("070 1234 5678", "personal number"),
        ("07623 123456", "pager"),
        ("0845 123 4567", "premium-rate or service"),
        ("0800 123 4567", "freephone"),
        ("+33 6 12 34 56 78", "not a UK number"),
        ("0033 6 12 34 56 78", "not a UK number"),
        ("+1 212 555 0100", "not a UK number"),
        ("07700 90012", "not a valid UK phone number"),
        ("0770 0900 12345", "wrong number of digits"),
        ("01632 96012", "not a valid UK phone number"),
        ("020 7946 0123 ext 4", "letters"),
        ("call me", "letters"),
        ("tel:+447700900123", "letters"),
        ("+44 7700 900123 #", "not a phone number we can read"),
        ("0" * 41, "longer than 40"),
        ("   ", "empty"),
    ],
)
def test_numbers_we_must_not_dial_are_refused_with_a_reason(typed: str, reason: str) -> None:
    with pytest.raises(InvalidPhoneNumber, match=reason) as raised:
        normalise_phone(typed, allow_fictional=True)
    assert typed.strip() == "" or typed.strip() not in raised.value.reason


@st.composite
def drama_numbers_in_varied_formats(draw: st.DrawFn) -> str:
    """A drama-range number written with spaces, +44, (0), 0044, dashes or dots."""
    prefix = draw(st.sampled_from(sorted(DRAMA_LANDLINE_PREFIXES | {"7700900"})))
    national_significant = prefix + draw(st.text("0123456789", min_size=3, max_size=3))
    lead = draw(st.sampled_from(["0", "+44", "+44 ", "+44 (0)", "+44(0)", "0044 ", "44", ""]))
    separator = draw(st.sampled_from(["", " ", "-", ".", "  "]))
    cut = draw(st.integers(1, len(national_significant) - 1))
    body = national_significant[:cut] + separator + national_significant[cut:]
    padding = draw(st.sampled_from(["", " ", "\t"]))
    return padding + lead + body + padding


@given(typed=drama_numbers_in_varied_formats())
def test_phone_normalisation_is_idempotent(typed: str) -> None:
    once = normalise_phone(typed, allow_fictional=True)
    twice = normalise_phone(once.e164, allow_fictional=True)
    assert twice == once
    assert once.fictional


_EXPECTED_KIND = {
    PhoneNumberType.MOBILE: PhoneKind.MOBILE,
    PhoneNumberType.FIXED_LINE: PhoneKind.LANDLINE,
    PhoneNumberType.FIXED_LINE_OR_MOBILE: PhoneKind.LANDLINE,
    PhoneNumberType.VOIP: PhoneKind.LANDLINE,
    PhoneNumberType.UAN: PhoneKind.LANDLINE,
}


@settings(max_examples=500)
@given(national_significant=st.from_regex(r"[1-9][0-9]{9}", fullmatch=True))
def test_the_fast_path_classifies_every_uk_number_as_phonenumbers_does(
    national_significant: str,
) -> None:
    typed = "0" + national_significant
    reference = phonenumbers.parse(typed, "GB")
    expected = _EXPECTED_KIND.get(phonenumbers.number_type(reference))
    if not phonenumbers.is_valid_number(reference):
        expected = None
    if is_fictional("+44" + national_significant):
        return  # drama ranges are ours to decide (phonenumbers calls some of them invalid)
    try:
        kind: PhoneKind | None = normalise_phone(typed, allow_fictional=False).kind
    except InvalidPhoneNumber:
        kind = None
    assert kind == expected


def test_masking_shows_the_dialling_prefix_and_the_last_two_digits_only() -> None:
    assert mask_phone("+447700900123") == "07700 9•• •23"
    assert mask_phone("+442079460123") == "020 794• ••23"
    assert mask_phone("+441632960123") == "01632 9•••23"
    assert mask_phone("garbage-57") == "•••57"


def test_numbers_are_formatted_the_way_they_are_written_in_the_uk() -> None:
    assert format_national("+447700900123") == "07700 900 123"
    assert format_national("+442079460123") == "020 7946 0123"
    assert format_national("+441134960123") == "0113 496 0123"
    assert format_national("+441632960123") == "01632 960123"
