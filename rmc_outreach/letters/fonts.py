"""The letter typeface and what it can print.

Letters use Source Sans Pro (SIL Open Font Licence 1.1), a clear sans-serif in the spirit of the
RNIB's clear-print guidance, shipped as TTF files inside the ``font-source-sans-pro`` wheel, so no
system font package is needed. It covers Latin-1, Latin Extended-A and most of Latin Extended
Additional (Łukasz, Nguyễn, Siân, Dvořák, Ștefan...).

Text is made printable before it reaches the PDF: composed to NFC, a character the font lacks is
replaced by its compatibility form (a ligature by its letters) or else by its letters without the
accents the font cannot print; a stray combining accent the font lacks is dropped. Anything still
not printable is refused with ``UnprintableTextError``: a letter never shows an empty box, a
question mark or mojibake in a patient's name or address.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache
from importlib.resources import files
from pathlib import Path

from fpdf import FPDF

FONT_PACKAGE = "font_source_sans_pro"
FAMILY = "SourceSansPro"
_SPACES = re.compile(r"[^\S\u00a0]+")
FONT_FILES = {"": "SourceSansPro-Regular.ttf", "B": "SourceSansPro-Bold.ttf"}


class UnprintableTextError(ValueError):
    """Text holds a character the letter font cannot print, even without its accents."""


def font_path(style: str = "") -> Path:
    """The TTF file for a style: '' (regular) or 'B' (bold)."""
    return Path(str(files(FONT_PACKAGE).joinpath("files", FONT_FILES[style])))


def add_letter_fonts(pdf: FPDF) -> None:
    """Register the regular and bold letter fonts on a document."""
    for style in FONT_FILES:
        pdf.add_font(FAMILY, style, font_path(style))


@lru_cache(maxsize=1)
def covered_codepoints() -> frozenset[int]:
    """Every codepoint that both the regular and the bold font can print."""
    pdf = FPDF()
    add_letter_fonts(pdf)
    covered: set[int] | None = None
    for key, font in pdf.fonts.items():
        cmap: dict[int, str] = getattr(font, "cmap", {})
        if not cmap:
            raise RuntimeError(f"letter font {key} has no unicode character map")
        covered = set(cmap) if covered is None else covered & set(cmap)
    return frozenset(covered or ())


def collapse_spaces(text: str) -> str:
    """Runs of whitespace (tabs, line breaks) become one space; no-break spaces are kept."""
    return _SPACES.sub(" ", text).strip(" ")


def printable(text: str) -> str:
    """``text`` made safe for the letter font, or ``UnprintableTextError``.

    Whitespace becomes single spaces (``collapse_spaces``); a character the font lacks falls back to
    its compatibility form, else to its letters without accents.
    """
    covered = covered_codepoints()
    result: list[str] = []
    for char in unicodedata.normalize("NFC", collapse_spaces(text)):
        if ord(char) in covered:
            result.append(char)
            continue
        if unicodedata.combining(char):
            continue  # an accent NFC could not attach to its letter, and the font lacks it
        compatible = unicodedata.normalize("NFKC", char)  # e.g. a ligature as its letters
        unaccented = "".join(
            part for part in unicodedata.normalize("NFKD", char) if not unicodedata.combining(part)
        )
        for candidate in (compatible, unaccented):
            if candidate and all(ord(part) in covered for part in candidate):
                result.append(candidate)
                break
        else:
            raise UnprintableTextError(
                f"the letter font cannot print U+{ord(char):04X} ({unicodedata.name(char, '?')})"
            )
    return "".join(result)
