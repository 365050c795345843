"""One letter's PDF: words, names with diacritics, type sizes and the envelope window."""

from __future__ import annotations

import unicodedata

import pytest

from rmc_outreach.letters import (
    AddressDoesNotFitError,
    UnprintableTextError,
    letter_context,
    render_letter_pdf,
)
from rmc_outreach.letters.content import (
    BODY_TEMPLATE,
    render_blocks,
    render_lines,
    template_names,
)
from rmc_outreach.letters.fonts import covered_codepoints, printable
from rmc_outreach.letters.layout import (
    ADDRESS_MIN_SIZE,
    LARGE_PRINT_MIN_SIZE,
    NORMAL_PRINT,
    WINDOW,
    WINDOW_CLEARANCE,
)
from rmc_outreach.models import Priority
from tests.letters.pdf_inspection import all_text, page_count, page_runs
from tests.letters.samples import BOOKING_NUMBER, SAMPLE_PATIENTS, sample_context

SAMPLES = sorted(SAMPLE_PATIENTS)
BOTH_SIZES = [False, True]
CLINICAL_WORDS = (
    "cardiology",
    "oncology",
    "specialty",
    "speciality",
    "diagnosis",
    "cancer",
    "tumour",
    "suspected",
    "urgent",
    "two week",
    "two-week",
    "priority",
    "clinic",
    "consultant",
    "nhs number",
    *(priority.value for priority in Priority if priority is not Priority.ROUTINE),
)
# A window must show the address and nothing more, with a clear margin inside its edges.
WINDOW_MARGIN = 2.0


@pytest.mark.parametrize("large_print", BOTH_SIZES)
@pytest.mark.parametrize("sample", SAMPLES)
def test_a_letter_prints_the_patients_name_exactly_as_written(
    sample: str, large_print: bool
) -> None:
    given, family, _, _ = SAMPLE_PATIENTS[sample]
    text = all_text(render_letter_pdf(sample_context(sample, large_print=large_print)))
    assert f"Dear {given} {family}" in text
    assert "?" not in text
    assert "\ufffd" not in text


@pytest.mark.parametrize("large_print", BOTH_SIZES)
@pytest.mark.parametrize("sample", SAMPLES)
def test_a_letter_gives_the_booking_number_and_no_clinical_detail(
    sample: str, large_print: bool
) -> None:
    text = all_text(render_letter_pdf(sample_context(sample, large_print=large_print)))
    assert f"call us on {BOOKING_NUMBER} (Mon-Fri 8am-6pm)" in " ".join(text.split())
    assert "NHS referral booking service" in text
    assert "no longer need this appointment" in text
    assert "Relay UK" in text
    lowered = text.lower()
    found = [word for word in CLINICAL_WORDS if word in lowered]
    assert found == []


@pytest.mark.parametrize("sample", SAMPLES)
def test_a_normal_print_letter_fits_on_one_sheet(sample: str) -> None:
    pdf = render_letter_pdf(sample_context(sample, large_print=False))
    assert page_count(pdf) <= 2
    body_sizes = {run.size for run in page_runs(pdf, 0) if not WINDOW.overlaps(run.box)}
    assert min(body_sizes) >= NORMAL_PRINT.footer
    assert NORMAL_PRINT.body in body_sizes


@pytest.mark.parametrize("sample", SAMPLES)
def test_large_print_sets_every_word_outside_the_window_at_16_points_or_more(
    sample: str,
) -> None:
    pdf = render_letter_pdf(sample_context(sample, large_print=True))
    address = [run for run in page_runs(pdf, 0) if WINDOW_CLEARANCE.overlaps(run.box)]
    expected = sample_context(sample, large_print=True).address_lines
    assert [run.text for run in address] == list(expected)
    runs = [run for page in range(page_count(pdf)) for run in page_runs(pdf, page)]
    outside = [run for run in runs if run not in address]
    assert len(outside) > 20
    too_small = [(run.text, run.size) for run in outside if run.size < LARGE_PRINT_MIN_SIZE]
    assert too_small == []
    assert "Please call us to book your hospital appointment" in [run.text for run in runs]


@pytest.mark.parametrize("large_print", BOTH_SIZES)
@pytest.mark.parametrize("sample", SAMPLES)
def test_the_address_lies_inside_the_envelope_window_and_nothing_else_shows_through_it(
    sample: str, large_print: bool
) -> None:
    context = sample_context(sample, large_print=large_print)
    runs = page_runs(render_letter_pdf(context), 0)
    in_window = [run for run in runs if WINDOW_CLEARANCE.overlaps(run.box)]
    assert [run.text for run in in_window] == list(context.address_lines)
    safe_area = WINDOW.grown(-WINDOW_MARGIN)
    outside = [(run.text, run.box) for run in in_window if not safe_area.contains(run.box)]
    assert outside == []
    assert all(run.size >= ADDRESS_MIN_SIZE for run in in_window)


def test_the_address_block_ends_with_the_postcode_in_capitals_and_skips_empty_lines() -> None:
    context = sample_context("welsh", large_print=False)
    assert context.address_lines == (
        "Siân Llŷr-Ó Briain",
        "Tŷ Gwyn",
        "Heol y Felin",
        "Caerdydd",
        "CF10 1AA",
    )


def test_an_address_too_wide_for_the_window_is_refused() -> None:
    with pytest.raises(AddressDoesNotFitError):
        render_letter_pdf(
            letter_context(
                given_name="Anne",
                family_name="Smith",
                address=[
                    "The Old Rectory Cottages and Barns, Upper Little Snoring-next-the-Sea, Wells"
                ],
                postcode="NR21 0AA",
                ubrn="000123456789",
                letter_date=sample_context("polish", large_print=False).letter_date,
                large_print=False,
            )
        )


def _letters_without_accents(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(part for part in decomposed if not unicodedata.combining(part))


def test_characters_the_font_lacks_fall_back_to_the_same_letters_without_their_accents() -> None:
    covered = covered_codepoints()
    lacking = [
        chr(codepoint)
        for codepoint in range(0x100, 0x2000)
        if codepoint not in covered
        and unicodedata.category(chr(codepoint)) in ("Lu", "Ll")
        and all(ord(part) in covered for part in _letters_without_accents(chr(codepoint)))
        and _letters_without_accents(chr(codepoint)) != chr(codepoint)
    ]
    assert len(lacking) > 10
    for char in lacking:
        shown = printable(f"Jo{char}n")
        assert all(ord(part) in covered for part in shown)
        assert _letters_without_accents(shown) == _letters_without_accents(f"Jo{char}n")


def test_a_character_with_no_printable_form_is_refused_rather_than_printed_as_a_box() -> None:
    with pytest.raises(UnprintableTextError):
        printable("王秀英")


def test_decomposed_accents_are_composed_before_printing() -> None:
    decomposed = unicodedata.normalize("NFD", "Nguyễn Siân")
    assert printable(decomposed) == "Nguyễn Siân"


@pytest.mark.parametrize("large_print", BOTH_SIZES)
def test_every_letter_template_renders_for_a_sample_patient(large_print: bool) -> None:
    context = sample_context("vietnamese", large_print=large_print)
    names = template_names()
    assert {"letterhead.txt", BODY_TEMPLATE, "sign_off.txt"} <= set(names)
    for name in names:
        assert any(line.strip() for line in render_lines(name, context))
    headings = [block.lines[0] for block in render_blocks(BODY_TEMPLATE, context) if block.heading]
    assert "If you no longer need this appointment" in headings


def test_large_print_letters_do_not_offer_large_print_again() -> None:
    normal = all_text(render_letter_pdf(sample_context("polish", large_print=False)))
    large = all_text(render_letter_pdf(sample_context("polish", large_print=True)))
    assert "large print" in " ".join(normal.split())
    assert "large print" not in " ".join(large.split())
