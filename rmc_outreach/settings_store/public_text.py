"""The per-centre words in every voice prompt, text and letter: checked, and previewed.

Admins change the *values* the shipped templates use (the service's name, the booking number,
the opening hours written and spoken), never the templates' wording: the wording is reviewed in
the repository with its tests (``tests/test_messages.py``), because no check can prove that free
text carries no clinical detail or still says who is calling, why and how to call back (Ofcom's
information message). The values are checked here before they are stored: plain text without
placeholders, numbers or clinical words, every SMS template still within two segments, and
every voice prompt, text and letter rendering with them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

from rmc_outreach.letters.content import (
    BODY_TEMPLATE,
    LETTERHEAD_TEMPLATE,
    SIGN_OFF_TEMPLATE,
    letter_context,
    render_blocks,
)
from rmc_outreach.letters.fonts import UnprintableTextError
from rmc_outreach.messages import (
    MAX_SMS_SEGMENTS,
    TEMPLATE_ROOT,
    PublicContext,
    SegmentCount,
    render_voice,
    sms_segments,
    template_names,
)
from rmc_outreach.messages import _render as render_template_file

# Words that would tell a listener something clinical or identify the patient (the list
# tests/test_messages.py checks the shipped templates against).
UNSAFE_WORDS = re.compile(
    r"cancer|oncology|urgent|two.week|2ww|cardio|dermat|gynae|urolog|neurolog|ophthalm|orthop"
    r"|respirat|rheumat|breast|colorectal|diagnos|clinic\b|consultant|\bNHS number|dear\b",
    re.IGNORECASE,
)
# Placeholders, markup and line breaks have no place in a value spliced into a message.
_NOT_PLAIN = re.compile(r"[{}<>\[\]\\|`\r\n\t]|%\(|\$\{")
# A run of six or more digits could be an NHS number, a phone number or a reference.
_LONG_NUMBER = re.compile(r"\d[\d\s-]{4,}\d")

TEXT_LIMITS = {
    "service_name": 60,
    "opening_hours": 40,
    "opening_hours_spoken": 80,
}

# A synthetic patient for the letter preview: a made-up name, a made-up address and a UBRN
# that names no referral.
SAMPLE_GIVEN_NAME = "Alex"
SAMPLE_FAMILY_NAME = "Sample"
SAMPLE_ADDRESS = ["1 Example Street", "Sampletown", None, None, None]
SAMPLE_POSTCODE = "ZZ99 3CZ"  # the NHS's pseudo-postcode for "no fixed abode": never posted to
SAMPLE_UBRN = "000000000000"


class PublicTextError(ValueError):
    """A value that would make some message unsafe or unsendable; ``field`` names it."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


def check_text_value(field: str, value: str) -> str:
    """``value`` (one of ``TEXT_LIMITS``) stripped, or ``PublicTextError`` saying why not."""
    text = " ".join(value.split())
    limit = TEXT_LIMITS[field]
    if not text:
        raise PublicTextError(field, "must not be empty")
    if len(text) > limit:
        raise PublicTextError(field, f"must be at most {limit} characters, got {len(text)}")
    if _NOT_PLAIN.search(value):
        raise PublicTextError(field, "must be plain text: no braces, brackets, markup or tabs")
    if _LONG_NUMBER.search(text):
        raise PublicTextError(
            field, "must not contain a long number (the booking number has its own field)"
        )
    if match := UNSAFE_WORDS.search(text):
        raise PublicTextError(
            field,
            f"must not say {match.group(0)!r}: voicemails and texts may be heard or read by "
            "someone else, so they carry no clinical detail",
        )
    return text


@dataclass(frozen=True)
class RenderedMessage:
    """One template rendered for the preview, with its SMS segment count (texts only)."""

    channel: str
    name: str
    text: str
    segments: SegmentCount | None = None

    @property
    def too_long(self) -> bool:
        """True for a text beyond the segment limit (such a value is never stored)."""
        return self.segments is not None and self.segments.segments > MAX_SMS_SEGMENTS


def render_all(context: PublicContext) -> list[RenderedMessage]:
    """Every SMS and voice template rendered with ``context`` (texts with their segments)."""
    rendered = []
    for name in template_names("sms"):
        body = render_template_file(TEMPLATE_ROOT / "sms" / f"{name}.txt", context)
        rendered.append(RenderedMessage("sms", name, body, sms_segments(body)))
    rendered.extend(
        RenderedMessage("voice", name, render_voice(name, context))
        for name in template_names("voice")
    )
    return rendered


def sample_letter(context: PublicContext, today: date) -> list[list[str]]:
    """The letter's paragraphs for the synthetic sample patient, as lines (for the preview)."""
    letter = letter_context(
        given_name=SAMPLE_GIVEN_NAME,
        family_name=SAMPLE_FAMILY_NAME,
        address=list(SAMPLE_ADDRESS),
        postcode=SAMPLE_POSTCODE,
        ubrn=SAMPLE_UBRN,
        letter_date=today,
        large_print=False,
        public=context,
    )
    return [
        list(block.lines)
        for template in (LETTERHEAD_TEMPLATE, BODY_TEMPLATE, SIGN_OFF_TEMPLATE)
        for block in render_blocks(template, letter)
    ]


def check_messages(context: PublicContext, today: date, *, blame: str) -> None:
    """Render every text, voice prompt and the letter with ``context``; ``PublicTextError``
    naming ``blame`` (the value just changed) when a text would exceed two segments, a message
    would say a clinical word, or the letter could not print a character."""
    for message in render_all(context):
        if message.too_long and message.segments is not None:
            raise PublicTextError(
                blame,
                f"makes the text {message.channel}/{message.name} "
                f"{message.segments.segments} {message.segments.encoding} segments "
                f"(at most {MAX_SMS_SEGMENTS}): shorten the service name or opening hours",
            )
        if UNSAFE_WORDS.search(message.text):
            raise PublicTextError(blame, "would put a clinical word into a message")
    try:
        sample_letter(context, today)
    except UnprintableTextError as error:
        raise PublicTextError(
            blame, f"has a character the letter font cannot print ({error})"
        ) from None
