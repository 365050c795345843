"""The words of a letter, rendered from ``message_templates/letters/`` by name.

A letter has three templates: ``letterhead.txt`` (top right: who writes, how to call, the date
and the booking reference), ``please_call_to_book.txt`` (the body) and ``sign_off.txt`` (kept
together on one page, its blank lines printed as gaps). Templates are Jinja2 with
``StrictUndefined``. Layout markup is kept tiny: a blank line separates paragraphs, each line of a
paragraph starts a new line in print, and a paragraph whose first line starts ``# ``
has that line printed as a heading.

Letters carry no clinical detail: the context has no specialty, priority or diagnosis to render,
so a template cannot print one.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from functools import lru_cache

from jinja2 import Environment, FileSystemLoader, StrictUndefined

from rmc_outreach.config import PROJECT_ROOT
from rmc_outreach.letters.fonts import collapse_spaces, printable
from rmc_outreach.messages import PublicContext, default_public_context
from rmc_outreach.models import Patient, Referral

LETTER_TEMPLATES = PROJECT_ROOT / "message_templates" / "letters"
LETTERHEAD_TEMPLATE = "letterhead.txt"
BODY_TEMPLATE = "please_call_to_book.txt"
SIGN_OFF_TEMPLATE = "sign_off.txt"
NO_BREAK_SPACE = "\u00a0"


class NoPostalAddressError(ValueError):
    """The patient has no postal address (a first line and a postcode): no letter can be sent."""


@dataclass(frozen=True)
class LetterContext:
    """Everything printed on one letter; names and address are already printable."""

    patient_name: str
    address_lines: tuple[str, ...]  # name first, postcode last
    booking_reference: str
    letter_date: date
    large_print: bool
    service_name: str
    booking_number: str
    opening_hours: str


@dataclass(frozen=True)
class Block:
    """A paragraph of a letter as its printed lines; ``heading`` marks its first line a heading."""

    lines: tuple[str, ...]
    heading: bool = False


def format_booking_reference(ubrn: str) -> str:
    """A UBRN in the groups of four people read it in: '1234 5678 9012'."""
    digits = "".join(ubrn.split())
    return " ".join(digits[index : index + 4] for index in range(0, len(digits), 4))


def format_letter_date(day: date) -> str:
    """A date as a letter writes it: '27 November 2026'."""
    return f"{day.day} {day:%B %Y}"


def address_lines(
    given_name: str, family_name: str, lines: list[str | None], postcode: str | None
) -> tuple[str, ...]:
    """The address block: the name, the non-empty address lines, then the postcode.

    Raises NoPostalAddressError without a first line and a postcode, UnprintableTextError when a
    character cannot be printed.
    """
    if not (lines and lines[0] and lines[0].strip() and postcode and postcode.strip()):
        raise NoPostalAddressError("the patient has no postal address (first line and postcode)")
    name = printable(f"{given_name} {family_name}")
    body = [printable(line) for line in lines if line and line.strip()]
    return (name, *body, printable(postcode).upper())


def letter_context(
    *,
    given_name: str,
    family_name: str,
    address: list[str | None],
    postcode: str | None,
    ubrn: str,
    letter_date: date,
    large_print: bool,
    public: PublicContext | None = None,
) -> LetterContext:
    """Build the context of one letter from a patient's details and the service's public ones."""
    public = public or default_public_context()
    lines = address_lines(given_name, family_name, address, postcode)
    return LetterContext(
        patient_name=lines[0],
        address_lines=lines,
        booking_reference=format_booking_reference(ubrn),
        letter_date=letter_date,
        large_print=large_print,
        service_name=public.service_name,
        booking_number=public.booking_number,
        opening_hours=public.opening_hours,
    )


def patient_letter_context(
    patient: Patient,
    referral: Referral,
    *,
    letter_date: date,
    large_print: bool,
    public: PublicContext | None = None,
) -> LetterContext:
    """The context of a letter to a patient about a referral, from their current details."""
    return letter_context(
        given_name=patient.given_name,
        family_name=patient.family_name,
        address=[
            patient.address_line_1,
            patient.address_line_2,
            patient.address_line_3,
            patient.address_line_4,
            patient.address_line_5,
        ],
        postcode=patient.postcode,
        ubrn=referral.ubrn,
        letter_date=letter_date,
        large_print=large_print,
        public=public,
    )


@lru_cache(maxsize=1)
def _environment() -> Environment:
    return Environment(
        loader=FileSystemLoader(str(LETTER_TEMPLATES)),
        undefined=StrictUndefined,
        # Plain text drawn into a PDF, never HTML.
        autoescape=False,  # noqa: S701
        keep_trailing_newline=False,
    )


def _template_values(context: LetterContext) -> dict[str, object]:
    return {
        "patient_name": context.patient_name,
        "booking_reference": context.booking_reference,
        "letter_date": format_letter_date(context.letter_date),
        "large_print": context.large_print,
        "service_name": context.service_name,
        # A phone number is never split across two lines.
        "booking_number": context.booking_number.replace(" ", NO_BREAK_SPACE),
        "opening_hours": context.opening_hours,
    }


def _render_text(template_name: str, context: LetterContext) -> str:
    return _environment().get_template(template_name).render(**_template_values(context))


def render_lines(template_name: str, context: LetterContext) -> list[str]:
    """Render a letter template into printable lines, blank lines kept as ''."""
    text = _render_text(template_name, context)
    return [printable(line) for line in text.strip("\n").splitlines()]


def render_blocks(template_name: str, context: LetterContext) -> list[Block]:
    """Render a letter template into blocks (paragraphs and headings)."""
    text = _render_text(template_name, context)
    blocks: list[Block] = []
    for chunk in text.split("\n\n"):
        lines = [collapse_spaces(line) for line in chunk.splitlines() if line.strip()]
        if not lines:
            continue
        heading = lines[0].startswith("# ")
        if heading:
            lines[0] = lines[0][2:]
        blocks.append(Block(tuple(printable(line) for line in lines), heading=heading))
    return blocks


def template_names() -> list[str]:
    """Every letter template's file name."""
    return sorted(path.name for path in LETTER_TEMPLATES.glob("*.txt"))
