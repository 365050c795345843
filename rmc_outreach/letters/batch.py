"""The daily print batch: every pending letter in one PDF, with a CSV manifest for the print house.

``cut_print_batch`` is idempotent per day: a day is cut at most once (``print_batch.day`` is
unique). A second cut on the same day returns ``None`` and changes nothing; letters prepared after
the day's cut wait, still cancellable, for the next day's batch. ``None`` is also returned when no
letter is pending: no empty batch is recorded, so a later cut that day can still collect letters.

Each letter starts on a new page and its page count is padded to an even number, so a duplex
printer never puts two patients on one sheet. The manifest names no one: batch id, letter id, first
page, page count, large print yes/no and postcode (for the print house's postal sort).

Concurrency: the pending letters are read ``FOR UPDATE`` (PostgreSQL; SQLite writers are already
serialised), so a cancellation racing the cut either lands first (the letter is not printed) or
waits and then finds the letter printed (and leaves it alone). The PDF and manifest are written
before the transaction commits; if it rolls back they are overwritten by the next cut of that day.
"""

from __future__ import annotations

import csv
import hashlib
import io
import logging
import os
import uuid
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from rmc_outreach import attempts
from rmc_outreach.clock import now
from rmc_outreach.letters.content import patient_letter_context
from rmc_outreach.letters.render import LetterDocument, LetterPages
from rmc_outreach.messages import PublicContext
from rmc_outreach.models import AttemptOutcome, Letter, LetterStatus, Patient, PrintBatch, Referral

log = logging.getLogger(__name__)

MANIFEST_COLUMNS = ("batch_id", "letter_id", "first_page", "page_count", "large_print", "postcode")
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
UPDATE_CHUNK = 500  # ids per UPDATE ... IN (...), well inside every backend's parameter limit


@dataclass(frozen=True)
class _PlacedLetter:
    letter: Letter
    postcode: str
    pages: LetterPages


def safe_cell(value: object) -> str:
    """A manifest cell that a spreadsheet will not run as a formula."""
    text = str(value)
    return "'" + text if text.startswith(FORMULA_PREFIXES) else text


def batch_file_names(day: date) -> tuple[str, str]:
    """The PDF and manifest file names of a day's batch."""
    stem = f"print-batch-{day.isoformat()}"
    return f"{stem}.pdf", f"{stem}-manifest.csv"


def _write_atomically(path: Path, content: bytes) -> None:
    temporary = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    temporary.write_bytes(content)
    os.replace(temporary, path)


def _pending_letters(session: Session) -> list[tuple[Letter, Referral, Patient]]:
    rows = session.execute(
        select(Letter, Referral, Patient)
        .join(Referral, Referral.id == Letter.referral_id)
        .join(Patient, Patient.id == Referral.patient_id)
        .where(Letter.status == LetterStatus.PENDING, Letter.batch_id.is_(None))
        .order_by(Letter.created_at, Letter.id)
        .with_for_update(of=Letter)
    ).all()
    return [(row[0], row[1], row[2]) for row in rows]


def _cancel_unprintable(session: Session, letter: Letter, error: ValueError) -> None:
    reason = f"not printable: {type(error).__name__}: {error}"[:200]
    letter.status = LetterStatus.CANCELLED
    letter.cancelled_at = now()
    letter.cancel_reason = reason
    attempts.finish(
        session, letter.attempt_id, AttemptOutcome.LETTER_CANCELLED, error_reason=reason
    )
    log.warning("letter %s cancelled at the cut: %s", letter.id, type(error).__name__)


def manifest_csv(batch_id: int, placed: list[_PlacedLetter]) -> bytes:
    """The manifest's CSV bytes (UTF-8), one row per letter in print order."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(MANIFEST_COLUMNS)
    for item in placed:
        row = (
            batch_id,
            item.letter.id,
            item.pages.first_page,
            item.pages.page_count,
            "yes" if item.letter.large_print else "no",
            item.postcode,
        )
        writer.writerow([safe_cell(value) for value in row])
    return buffer.getvalue().encode("utf-8")


def cut_print_batch(
    session: Session, *, day: date, output_dir: Path, public: PublicContext | None = None
) -> PrintBatch | None:
    """Cut every pending letter into ``day``'s print batch: one PDF and one CSV manifest.

    Letters cut become ``printed`` and their attempts final with outcome ``letter_printed``;
    a letter whose patient's details can no longer be printed is cancelled instead (outcome
    ``letter_cancelled``). Returns the new batch, or None when the day was already cut or no
    letter was pending (see the module docstring). The caller's transaction commits the result.
    """
    if session.scalar(select(PrintBatch.id).where(PrintBatch.day == day)) is not None:
        log.info("print batch for %s already cut", day)
        return None
    cut_at = now()
    document = LetterDocument(pad_to_even=True, created_at=cut_at)
    placed: list[_PlacedLetter] = []
    for letter, referral, patient in _pending_letters(session):
        try:
            context = patient_letter_context(
                patient, referral, letter_date=day, large_print=letter.large_print, public=public
            )
            pages = document.add_letter(context)
        except ValueError as error:
            _cancel_unprintable(session, letter, error)
            continue
        placed.append(_PlacedLetter(letter, context.address_lines[-1], pages))
    if not placed:
        session.flush()
        return None

    batch = PrintBatch(day=day, cut_at=cut_at, letter_count=len(placed))
    try:
        with session.begin_nested():
            session.add(batch)
    except IntegrityError:
        log.info("print batch for %s was cut concurrently", day)
        return None

    output_dir.mkdir(parents=True, exist_ok=True)
    pdf_name, manifest_name = batch_file_names(day)
    pdf_bytes = document.output()
    pdf_path = output_dir.resolve() / pdf_name
    manifest_path = output_dir.resolve() / manifest_name
    _write_atomically(pdf_path, pdf_bytes)
    _write_atomically(manifest_path, manifest_csv(batch.id, placed))
    batch.pdf_path = str(pdf_path)
    batch.manifest_path = str(manifest_path)
    batch.sha256 = hashlib.sha256(pdf_bytes).hexdigest()

    letter_ids = [item.letter.id for item in placed]
    for start in range(0, len(letter_ids), UPDATE_CHUNK):
        session.execute(
            update(Letter)
            .where(
                Letter.id.in_(letter_ids[start : start + UPDATE_CHUNK]),
                Letter.status == LetterStatus.PENDING,
            )
            .values(status=LetterStatus.PRINTED, batch_id=batch.id)
        )
    for item in placed:
        attempts.finish(
            session, item.letter.attempt_id, AttemptOutcome.LETTER_PRINTED, ended_at=cut_at
        )
    session.flush()
    log.info("print batch %s for %s cut: %s letters", batch.id, day, len(placed))
    return batch
