"""Letters, the last resort of a journey: A4 PDFs for windowed envelopes and daily print batches.

- ``prepare_letter(session, attempt_id)``: record a pending letter for a letter attempt.
- ``cancel_pending_letters(session, referral_id, reason)``: cancel letters not yet cut.
- ``cut_print_batch(session, day=..., output_dir=...)``: the day's PDF and CSV manifest.
- ``render_letter_pdf(context)``: one letter's PDF; ``letter_context`` builds the context.
- ``preview_letter_pdf(session, letter_id)``: a recorded letter as it would print today.

Layout and envelope-window numbers: ``letters.layout``. Words: ``message_templates/letters/``.
"""

from rmc_outreach.letters.batch import MANIFEST_COLUMNS, cut_print_batch
from rmc_outreach.letters.content import LetterContext, NoPostalAddressError, letter_context
from rmc_outreach.letters.fonts import UnprintableTextError
from rmc_outreach.letters.lifecycle import (
    LetterNotPossibleError,
    cancel_pending_letters,
    prepare_letter,
    preview_letter_pdf,
)
from rmc_outreach.letters.render import AddressDoesNotFitError, render_letter_pdf

__all__ = [
    "MANIFEST_COLUMNS",
    "AddressDoesNotFitError",
    "LetterContext",
    "LetterNotPossibleError",
    "NoPostalAddressError",
    "UnprintableTextError",
    "cancel_pending_letters",
    "cut_print_batch",
    "letter_context",
    "prepare_letter",
    "preview_letter_pdf",
    "render_letter_pdf",
]
