"""Drawing letters into A4 PDFs with fpdf2 (pure Python).

``LetterDocument`` holds one or more letters: each starts on a new page and, for a print batch,
its page count is padded to an even number so that duplex printing never puts two patients on one
sheet. ``render_letter_pdf`` makes the PDF of a single letter (previews, tests).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache

from fpdf import FPDF
from fpdf.enums import Align, XPos, YPos

from rmc_outreach.clock import now
from rmc_outreach.letters.content import (
    BODY_TEMPLATE,
    LETTERHEAD_TEMPLATE,
    SIGN_OFF_TEMPLATE,
    Block,
    LetterContext,
    render_blocks,
    render_lines,
)
from rmc_outreach.letters.fonts import FAMILY, add_letter_fonts
from rmc_outreach.letters.layout import (
    ADDRESS_AREA,
    ADDRESS_MIN_SIZE,
    BODY_TOP,
    BOTTOM_MARGIN,
    LEFT_MARGIN,
    LETTERHEAD,
    PAGE_HEIGHT,
    RIGHT_MARGIN,
    TEXT_WIDTH,
    TOP_MARGIN,
    Typography,
    line_height,
    typography,
)

SIZE_STEP = 0.5  # points: how finely the address is shrunk to fit the window


class AddressDoesNotFitError(ValueError):
    """The address cannot be printed inside the envelope window, even at the smallest size."""


@dataclass(frozen=True)
class LetterPages:
    """Where one letter lies in a document: 1-based first page and its page count (padded)."""

    first_page: int
    page_count: int
    printed_pages: int  # pages with the letter on them, before padding


_measure_lock = threading.Lock()


@lru_cache(maxsize=1)
def _measuring_pdf() -> FPDF:
    pdf = FPDF(unit="mm", format="A4")
    add_letter_fonts(pdf)
    return pdf


def address_font_size(lines: tuple[str, ...], preferred: float) -> float:
    """The largest size from ``preferred`` down that fits every line in the window's address area.

    Raises AddressDoesNotFitError when even the smallest size does not fit.
    """
    size = preferred
    with _measure_lock:
        pdf = _measuring_pdf()
        while size >= ADDRESS_MIN_SIZE:
            pdf.set_font(FAMILY, "", size)
            step = line_height(size)
            widest = max(pdf.get_string_width(line) for line in lines)
            if widest <= ADDRESS_AREA.width and step * len(lines) <= ADDRESS_AREA.height:
                return size
            size -= SIZE_STEP
    raise AddressDoesNotFitError(
        f"the address ({len(lines)} lines) does not fit the envelope window at "
        f"{ADDRESS_MIN_SIZE} pt"
    )


WidthCache = dict[tuple[str, str, float, str], float]


def _string_width(pdf: FPDF, text: str, widths: WidthCache) -> float:
    # fpdf2's get_string_width copies its graphics state on every call; the same words recur
    # in every letter of a batch, so the document remembers their widths.
    key = (pdf.font_family, pdf.font_style, pdf.font_size_pt, text)
    width = widths.get(key)
    if width is None:
        width = widths[key] = pdf.get_string_width(text)
    return width


def wrap_words(pdf: FPDF, text: str, width: float, widths: WidthCache | None = None) -> list[str]:
    """Greedy word wrap of ``text`` into lines no wider than ``width`` in the current font.

    Lines break at plain spaces only (a no-break space holds a phone number together); a word
    wider than the whole line is split between characters rather than run off the page.
    ``widths`` remembers measured words between calls on the same document.
    """
    widths = {} if widths is None else widths
    space = _string_width(pdf, " ", widths)
    lines: list[str] = []
    current: list[str] = []
    current_width = 0.0
    for word in text.split(" "):
        word_width = _string_width(pdf, word, widths)
        if current and current_width + space + word_width <= width:
            current.append(word)
            current_width += space + word_width
            continue
        if current:
            lines.append(" ".join(current))
        rest, rest_width = word, word_width
        while rest_width > width and len(rest) > 1:
            cut = len(rest) - 1
            while cut > 1 and _string_width(pdf, rest[:cut], widths) > width:
                cut -= 1
            lines.append(rest[:cut])
            rest = rest[cut:]
            rest_width = _string_width(pdf, rest, widths)
        current, current_width = [rest], rest_width
    if current and any(current):
        lines.append(" ".join(current))
    return lines


class LetterDocument:
    """A PDF holding letters one after another, each starting on a new page."""

    def __init__(self, *, pad_to_even: bool, created_at: datetime | None = None) -> None:
        self.pad_to_even = pad_to_even
        self._widths: WidthCache = {}
        self.pdf = FPDF(orientation="P", unit="mm", format="A4")
        self.pdf.set_creation_date(created_at or now())
        self.pdf.set_creator("rmc-outreach")
        self.pdf.set_title("Letter")
        self.pdf.set_margins(LEFT_MARGIN, TOP_MARGIN, RIGHT_MARGIN)
        self.pdf.set_auto_page_break(True, margin=BOTTOM_MARGIN)
        self.pdf.c_margin = 0
        add_letter_fonts(self.pdf)

    def add_letter(self, context: LetterContext) -> LetterPages:
        """Draw one letter from a new page; return where it lies."""
        pdf = self.pdf
        sizes = typography(context.large_print)
        pdf.add_page()
        first_page = pdf.page_no()
        self._letterhead(context, sizes)
        self._address(context, sizes)
        self._body(context, sizes)
        last_page = pdf.page_no()
        printed = last_page - first_page + 1
        if printed > 1:
            self._page_numbers(first_page, printed, sizes)
        padded = printed
        if self.pad_to_even and printed % 2:
            pdf.add_page()  # blank back, so the next patient starts on a new sheet
            padded += 1
        return LetterPages(first_page=first_page, page_count=padded, printed_pages=printed)

    def output(self) -> bytes:
        """The finished PDF."""
        return bytes(self.pdf.output())

    def _letterhead(self, context: LetterContext, sizes: Typography) -> None:
        pdf = self.pdf
        pdf.set_xy(LETTERHEAD.left, LETTERHEAD.top)
        step = line_height(sizes.letterhead)
        for block in render_blocks(LETTERHEAD_TEMPLATE, context):
            for index, line in enumerate(block.lines):
                bold = block.heading and index == 0
                pdf.set_font(FAMILY, "B" if bold else "", sizes.letterhead)
                self._write(line, LETTERHEAD.left, LETTERHEAD.width, step)
            pdf.set_y(pdf.get_y() + step / 2)

    def _address(self, context: LetterContext, sizes: Typography) -> None:
        pdf = self.pdf
        lines = context.address_lines
        size = address_font_size(lines, sizes.address)
        step = line_height(size)
        pdf.set_font(FAMILY, "", size)
        for index, line in enumerate(lines):
            pdf.set_xy(ADDRESS_AREA.left, ADDRESS_AREA.top + index * step)
            pdf.cell(ADDRESS_AREA.width, step, line, align=Align.L)

    def _body(self, context: LetterContext, sizes: Typography) -> None:
        pdf = self.pdf
        body_line = line_height(sizes.body)
        heading_line = line_height(sizes.heading)
        pdf.set_xy(LEFT_MARGIN, max(BODY_TOP, pdf.get_y() + body_line))
        for block in render_blocks(BODY_TEMPLATE, context):
            if block.heading:
                self._keep_heading_with_text(block, heading_line, body_line)
            for index, line in enumerate(block.lines):
                heading = block.heading and index == 0
                pdf.set_font(
                    FAMILY, "B" if heading else "", sizes.heading if heading else sizes.body
                )
                self._write(line, LEFT_MARGIN, TEXT_WIDTH, heading_line if heading else body_line)
            pdf.set_y(pdf.get_y() + body_line * 0.6)
        self._sign_off(context, sizes)

    def _sign_off(self, context: LetterContext, sizes: Typography) -> None:
        pdf = self.pdf
        step = line_height(sizes.body)
        lines = render_lines(SIGN_OFF_TEMPLATE, context)
        if pdf.get_y() + step * len(lines) > PAGE_HEIGHT - BOTTOM_MARGIN:
            pdf.add_page()  # the closing is never split from its signature
        pdf.set_font(FAMILY, "", sizes.body)
        for line in lines:
            self._write(line, LEFT_MARGIN, TEXT_WIDTH, step)

    def _write(self, text: str, left: float, width: float, step: float) -> None:
        # Our own word wrap: fpdf2's multi_cell measures each line in quadratic time, which
        # made cutting a batch of hundreds of letters take seconds under the database lock.
        pdf = self.pdf
        for line in wrap_words(pdf, text, width, self._widths) or [""]:
            if pdf.get_y() + step > PAGE_HEIGHT - BOTTOM_MARGIN:
                pdf.add_page()
            pdf.set_x(left)
            pdf.cell(width, step, line, align=Align.L, new_x=XPos.LEFT, new_y=YPos.NEXT)

    def _keep_heading_with_text(self, block: Block, heading_line: float, body_line: float) -> None:
        # A heading never ends a page: it needs room for itself and two lines after it.
        needed = heading_line + 2 * body_line
        if self.pdf.get_y() + needed > PAGE_HEIGHT - BOTTOM_MARGIN:
            self.pdf.add_page()

    def _page_numbers(self, first_page: int, count: int, sizes: Typography) -> None:
        pdf = self.pdf
        last_page = pdf.page
        pdf.set_auto_page_break(False)
        pdf.set_font(FAMILY, "", sizes.footer)
        step = line_height(sizes.footer)
        for number in range(1, count + 1):
            pdf.page = first_page + number - 1
            pdf.set_xy(LEFT_MARGIN, PAGE_HEIGHT - BOTTOM_MARGIN + 4)
            pdf.cell(TEXT_WIDTH, step, f"Page {number} of {count}", align=Align.R)
        pdf.page = last_page
        pdf.set_auto_page_break(True, margin=BOTTOM_MARGIN)


def render_letter_pdf(context: LetterContext) -> bytes:
    """The PDF of one letter (no duplex padding), for previews and checks."""
    document = LetterDocument(pad_to_even=False)
    document.add_letter(context)
    return document.output()
