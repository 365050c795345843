"""Reading letters back out of their PDFs: text, font sizes and where each line lies.

Positions come from the PDF content stream (pypdf's text visitor), sizes from the ``Tf``
operator, ascent and descent from the embedded font's descriptor; line widths are measured with
the same TTF. Everything is in millimetres from the page's top-left corner, like ``letters.layout``.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from fpdf import FPDF
from pypdf import PdfReader

from rmc_outreach.letters.fonts import FAMILY, add_letter_fonts
from rmc_outreach.letters.layout import PAGE_HEIGHT, Rectangle

POINT_MM = 25.4 / 72


@dataclass(frozen=True)
class TextRun:
    """One line of text as drawn on a page."""

    text: str
    size: float  # points
    bold: bool
    box: Rectangle  # ascent to descent, left edge to the end of the text


@lru_cache(maxsize=1)
def _measurer() -> FPDF:
    pdf = FPDF(unit="mm", format="A4")
    add_letter_fonts(pdf)
    return pdf


def text_width(text: str, size: float, bold: bool) -> float:
    """Width in millimetres of ``text`` in the letter font."""
    pdf = _measurer()
    pdf.set_font(FAMILY, "B" if bold else "", size)
    return pdf.get_string_width(text)


def _descriptor(font_dict: Any) -> tuple[float, float]:
    font = font_dict.get_object()
    if "/DescendantFonts" in font:
        font = font["/DescendantFonts"][0].get_object()
    descriptor = font["/FontDescriptor"].get_object()
    return float(descriptor["/Ascent"]) / 1000, abs(float(descriptor["/Descent"])) / 1000


def reader(pdf_bytes: bytes) -> PdfReader:
    """A pypdf reader over PDF bytes."""
    return PdfReader(io.BytesIO(pdf_bytes))


def page_runs(pdf_bytes: bytes, page_index: int) -> list[TextRun]:
    """Every non-blank text run on one page (0-based index)."""
    page = reader(pdf_bytes).pages[page_index]
    runs: list[TextRun] = []

    def visit(
        text: str, cm: list[float], tm: list[float], font_dict: Any, font_size: float
    ) -> None:
        if not text.strip() or font_dict is None:
            return
        assert cm[:4] == [1, 0, 0, 1] and tm[:4] == [1, 0, 0, 1], "unexpected text scaling"
        ascent, descent = _descriptor(font_dict)
        bold = str(font_dict.get("/BaseFont", "")).endswith("Bold")
        size_mm = font_size * POINT_MM
        left = (tm[4] + cm[4]) * POINT_MM
        baseline = PAGE_HEIGHT - (tm[5] + cm[5]) * POINT_MM
        box = Rectangle(
            left=left,
            top=baseline - ascent * size_mm,
            width=text_width(text, font_size, bold),
            height=(ascent + descent) * size_mm,
        )
        runs.append(TextRun(text=text, size=font_size, bold=bold, box=box))

    page.extract_text(visitor_text=visit)
    return runs


def page_count(pdf_bytes: bytes) -> int:
    """How many pages the PDF has."""
    return len(reader(pdf_bytes).pages)


def page_text(pdf_bytes: bytes, page_index: int) -> str:
    """A page's text, with no-break spaces as plain spaces."""
    return reader(pdf_bytes).pages[page_index].extract_text().replace("\u00a0", " ")


def all_text(pdf_bytes: bytes) -> str:
    """The whole document's text."""
    return "\n".join(page_text(pdf_bytes, index) for index in range(page_count(pdf_bytes)))
