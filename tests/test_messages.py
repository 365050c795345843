"""Patient-facing words: every template renders, stays safe, and SMS fit in two segments."""

from __future__ import annotations

import dataclasses
import re

import pytest
from jinja2 import UndefinedError

from rmc_outreach.messages import (
    PublicContext,
    default_public_context,
    render_sms,
    render_voice,
    sms_segments,
    spoken_number,
    template_names,
)

CONTEXT = default_public_context()
# Words that would tell a listener something clinical or identify the patient.
UNSAFE_WORDS = re.compile(
    r"cancer|oncology|urgent|two.week|2ww|cardio|dermat|gynae|urolog|neurolog|ophthalm|orthop"
    r"|respirat|rheumat|breast|colorectal|diagnos|clinic\b|consultant|\bNHS number|dear\b",
    re.IGNORECASE,
)


def test_the_public_context_has_no_field_that_could_hold_patient_data() -> None:
    fields = {field.name for field in dataclasses.fields(PublicContext)}
    assert fields == {
        "service_name",
        "booking_number",
        "booking_number_spoken",
        "opening_hours",
        "opening_hours_spoken",
    }


@pytest.mark.parametrize("name", template_names("voice"))
def test_every_voice_prompt_renders_without_clinical_or_identifying_words(name: str) -> None:
    text = render_voice(name, CONTEXT)
    assert text
    assert "{" not in text
    assert UNSAFE_WORDS.search(text) is None


@pytest.mark.parametrize("name", template_names("sms"))
def test_every_sms_renders_safely_within_two_segments(name: str) -> None:
    body = render_sms(name, CONTEXT)
    assert UNSAFE_WORDS.search(body) is None
    assert 1 <= sms_segments(body).segments <= 2


def test_the_voicemail_says_who_is_calling_and_the_number_to_call_back() -> None:
    text = render_voice("voicemail", CONTEXT)
    assert "NHS referral booking service" in text
    assert "0 1 6 3 2, 9 6 0, 0 0 0" in text


def test_the_no_handler_message_says_who_why_and_how_to_call_back() -> None:
    text = render_voice("no_handler", CONTEXT)
    assert "NHS referral booking service" in text
    assert "appointment" in text
    assert spoken_number(CONTEXT.booking_number) in text


def test_sms_texts_tell_the_patient_how_to_opt_out() -> None:
    for name in ("invitation", "how_to_book", "help"):
        assert "STOP" in render_sms(name, CONTEXT)


def test_a_missing_variable_is_an_error_not_a_blank() -> None:
    from rmc_outreach.messages import _environment

    with pytest.raises(UndefinedError):
        _environment().from_string("Call {{ booking_numbr }}").render()


@pytest.mark.parametrize(
    ("body", "encoding", "units", "segments"),
    [
        ("", "GSM-7", 0, 0),
        ("a" * 160, "GSM-7", 160, 1),
        ("a" * 161, "GSM-7", 161, 2),
        ("a" * 306, "GSM-7", 306, 2),
        ("a" * 307, "GSM-7", 307, 3),
        ("€" * 80, "GSM-7", 160, 1),  # extension characters take two septets
        ("€" * 81, "GSM-7", 162, 2),
        ("Zoë" + "a" * 67, "UCS-2", 70, 1),  # ë is not in the GSM alphabet
        ("Zoë" + "a" * 68, "UCS-2", 71, 2),
        ("😀" * 35, "UCS-2", 70, 1),  # a surrogate pair is two code units
    ],
)
def test_sms_segments_follow_gsm7_and_ucs2_rules(
    body: str, encoding: str, units: int, segments: int
) -> None:
    assert sms_segments(body) == (sms_segments(body).__class__(encoding, units, segments))


def test_numbers_are_spoken_digit_by_digit_in_groups() -> None:
    assert spoken_number("+44 1632 960000") == "0 1 6 3 2, 9 6 0, 0 0 0"
    assert spoken_number("020 7946 0123") == "0 2 0, 7 9 4 6, 0 1 2 3"
    assert spoken_number("0113 496 0123") == "0 1 1 3, 4 9 6, 0 1 2 3"
    assert spoken_number("07700 900123") == "0 7 7 0 0, 9 0 0, 1 2 3"


@pytest.mark.parametrize("position", [1, 2, 17])
def test_the_queue_position_is_said_without_patient_data(position: int) -> None:
    from rmc_outreach.telephony.handoff_twiml import render_with

    text = render_with("queue/position", CONTEXT, position=position)
    assert text == (
        "You are next in the queue."
        if position == 1
        else f"You are number {position} in the queue."
    )
    assert UNSAFE_WORDS.search(text) is None


def test_the_queue_words_say_who_we_are_and_how_to_ask_for_a_callback() -> None:
    assert "press 1" in render_voice("queue_callback_offer", CONTEXT)
    assert "NHS referral booking service" in render_voice("inbound_greeting", CONTEXT)
    confirmed = render_voice("callback_confirmed", CONTEXT)
    assert "call you back" in confirmed and spoken_number(CONTEXT.booking_number) in confirmed


STAFF_VALUES = {
    "kind": "Booking call",
    "ubrn_last4": "1234",
    "ubrn_last4_spoken": "1 2 3 4",
    "priority": "urgent",
    "specialty": "Cardiology",
}


@pytest.mark.parametrize("name", ["whisper", "whisper_callback", "caller_gone"])
def test_every_staff_whisper_renders_short_and_never_names_the_patient(name: str) -> None:
    from rmc_outreach.telephony.handoff_twiml import render_with

    known = render_with(f"staff/{name}", **STAFF_VALUES)
    unknown = render_with(f"staff/{name}", **(STAFF_VALUES | {"ubrn_last4": ""}))
    for text in (known, unknown):
        assert text and "{" not in text and len(text) < 120
        assert re.search(r"\d{5,}|NHS number|Mr|Mrs|Ms", text) is None


def test_the_whisper_names_the_referral_by_its_last_four_digits_priority_and_specialty() -> None:
    from rmc_outreach.telephony.handoff_twiml import render_with

    assert render_with("staff/whisper", **STAFF_VALUES) == (
        "Booking call: referral ending 1 2 3 4, urgent, Cardiology."
    )
    with pytest.raises(UndefinedError):
        render_with("staff/whisper", kind="Booking call", ubrn_last4="1234")
