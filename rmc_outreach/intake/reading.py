"""From uploaded bytes to numbered rows: encoding, limits, header, CSV records.

Row numbers are what a spreadsheet shows: the header is row 1 and every record counts, blank
ones included, however many physical lines a quoted field spans.
"""

from __future__ import annotations

import codecs
import csv
from collections.abc import Iterator
from dataclasses import dataclass

from rmc_outreach.intake.columns import ColumnLayout, HeaderError, parse_header

SAVE_AS_UTF8 = 'save it from the spreadsheet as "CSV UTF-8 (Comma delimited)" and import again'
WINDOWS_1252_WARNING = (
    "the file is not UTF-8 and was read as Windows-1252 (older Excel CSV); check that accented "
    "names look right, or save it as CSV UTF-8"
)


class FileRejected(Exception):
    """The whole file is refused; ``reasons`` are for the person who chose the file."""

    def __init__(self, reasons: list[str]) -> None:
        super().__init__("; ".join(reasons))
        self.reasons = reasons


@dataclass(frozen=True, slots=True)
class DecodedFile:
    """The file's text and how it was read."""

    text: str
    encoding: str  # "utf-8" or "windows-1252"


_BINARY_SIGNATURES: tuple[tuple[bytes, str], ...] = (
    (b"PK\x03\x04", "this is a spreadsheet workbook (.xlsx) or zip file, not a CSV file"),
    (b"\xd0\xcf\x11\xe0", "this is an old Excel workbook (.xls), not a CSV file"),
    (b"%PDF", "this is a PDF document, not a CSV file"),
)


def decode(data: bytes, *, max_bytes: int) -> DecodedFile:
    """Decode an uploaded file as UTF-8 (BOM optional), else strict Windows-1252.

    Raises FileRejected for empty, oversized, binary, UTF-16/32 or undecodable files.
    """
    if not data or data.isspace():
        raise FileRejected(["the file is empty"])
    if len(data) > max_bytes:
        raise FileRejected(
            [f"the file is {len(data):,} bytes, over the limit of {max_bytes:,}; split it"]
        )
    if data.startswith((codecs.BOM_UTF32_LE, codecs.BOM_UTF32_BE)):
        raise FileRejected([f"the file is saved as UTF-32 text; {SAVE_AS_UTF8}"])
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        raise FileRejected([f'the file is saved as UTF-16 ("Unicode text"); {SAVE_AS_UTF8}'])
    for signature, reason in _BINARY_SIGNATURES:
        if data.startswith(signature):
            raise FileRejected([f"{reason}; {SAVE_AS_UTF8}"])
    if b"\x00" in data:
        raise FileRejected(
            [
                "the file contains NUL bytes, so it is not a CSV text file (a UTF-16 "
                f'"Unicode text" export or a binary file); {SAVE_AS_UTF8}'
            ]
        )
    try:
        return DecodedFile(data.decode("utf-8-sig"), "utf-8")
    except UnicodeDecodeError:
        pass
    try:
        return DecodedFile(data.decode("cp1252"), "windows-1252")
    except UnicodeDecodeError as error:
        raise FileRejected(
            [
                f"the file is neither UTF-8 nor Windows-1252 (byte 0x{data[error.start]:02X} "
                f"at offset {error.start:,} cannot be read); {SAVE_AS_UTF8}"
            ]
        ) from None


@dataclass(frozen=True, slots=True)
class Table:
    """A parsed header and a lazy stream of the data rows after it."""

    layout: ColumnLayout
    header_row: int
    rows: Iterator[tuple[int, list[str]]]


def _is_blank(fields: list[str]) -> bool:
    return all(not field.strip() for field in fields)


def _lines(text: str) -> Iterator[str]:
    """The text's lines with their endings, one at a time (io.StringIO would copy the text at
    four bytes a character). Files from old Macs end lines with a bare carriage return."""
    terminator = "\n" if "\n" in text or "\r" not in text else "\r"
    start = 0
    length = len(text)
    while start < length:
        end = text.find(terminator, start)
        if end < 0:
            yield text[start:]
            return
        yield text[start : end + 1]
        start = end + 1


def _records(text: str) -> Iterator[tuple[int, list[str]]]:
    """Every CSV record with its spreadsheet row number; csv errors become FileRejected."""
    reader = csv.reader(_lines(text))
    row_number = 0
    while True:
        try:
            fields = next(reader)
        except StopIteration:
            return
        except csv.Error as error:
            raise FileRejected(
                [f"row {row_number + 1} cannot be read as CSV ({error}); is a quote left open?"]
            ) from None
        row_number += 1
        yield row_number, fields


def _data_rows(
    records: Iterator[tuple[int, list[str]]], max_rows: int
) -> Iterator[tuple[int, list[str]]]:
    count = 0
    for row_number, fields in records:
        if _is_blank(fields):
            continue
        count += 1
        if count > max_rows:
            raise FileRejected([f"the file has more than {max_rows:,} rows, the limit; split it"])
        yield row_number, fields


def read_table(text: str, *, max_rows: int) -> Table:
    """Find the header (the first non-blank row) and return the data rows after it lazily.

    Raises FileRejected for a file with no header, a header we cannot use, or no data rows;
    the row stream raises FileRejected for CSV errors and for more than ``max_rows`` rows.
    """
    records = _records(text)
    header = next(((row, cells) for row, cells in records if not _is_blank(cells)), None)
    if header is None:
        raise FileRejected(["the file has no header row and no data"])
    header_row, cells = header
    try:
        layout = parse_header(cells)
    except HeaderError as error:
        reasons = list(error.reasons)
        if len(cells) == 1 and (";" in cells[0] or "\t" in cells[0]):
            separator = "semicolons" if ";" in cells[0] else "tabs"
            reasons.insert(0, f"columns must be separated by commas, this file uses {separator}")
        raise FileRejected(reasons) from None
    rows = _data_rows(records, max_rows)
    first = next(rows, None)
    if first is None:
        raise FileRejected(["the file has a header row but no data rows"])
    return Table(layout=layout, header_row=header_row, rows=_prepend(first, rows))


def _prepend(
    first: tuple[int, list[str]], rest: Iterator[tuple[int, list[str]]]
) -> Iterator[tuple[int, list[str]]]:
    yield first
    yield from rest
