"""The daily print batch: one PDF, one manifest, duplex-safe, idempotent, on every backend."""

from __future__ import annotations

import hashlib
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, func, select

from rmc_outreach.clock import frozen_at
from rmc_outreach.config import Settings
from rmc_outreach.db import session_scope
from rmc_outreach.letters import (
    MANIFEST_COLUMNS,
    cancel_pending_letters,
    cut_print_batch,
    prepare_letter,
)
from rmc_outreach.letters.batch import safe_cell
from rmc_outreach.models import (
    AttemptOutcome,
    AttemptState,
    ContactAttempt,
    Letter,
    LetterStatus,
    Patient,
    PrintBatch,
    Priority,
    Referral,
)
from tests.factories import create_patient, create_referral
from tests.letters.pdf_inspection import all_text, page_count, page_text
from tests.letters.support import create_letter_attempt, manifest_rows

DAY = date(2026, 11, 30)
CUT_AT = datetime(2026, 11, 30, 16, 5, tzinfo=UTC)


def _output_dir(settings: Settings) -> Path:
    return settings.var_dir / "letters"


def _prepare(**patient_overrides: Any) -> tuple[Letter, Patient]:
    with session_scope() as session:
        attempt = create_letter_attempt(session, **patient_overrides)
        letter = prepare_letter(session, attempt.id)
        patient = session.get_one(Referral, attempt.referral_id).patient
    return letter, patient


def _cut(settings: Settings, day: date = DAY, at: datetime = CUT_AT) -> PrintBatch | None:
    with frozen_at(at), session_scope() as session:
        return cut_print_batch(session, day=day, output_dir=_output_dir(settings))


def test_a_cut_prints_every_pending_letter_with_a_matching_manifest(
    database: Engine, settings: Settings
) -> None:
    people: list[dict[str, Any]] = [
        {"given_name": "Łukasz", "family_name": "Wiśniewski", "postcode": "LS6 1AA"},
        {"given_name": "Siân", "family_name": "Llŷr", "postcode": "CF10 1AA", "large_print": True},
        {"given_name": "Thị Mai", "family_name": "Nguyễn", "postcode": "BD1 5AA"},
    ]
    prepared = []
    for minute, person in enumerate(people):  # one after another: the batch keeps that order
        with frozen_at(CUT_AT - timedelta(hours=2) + timedelta(minutes=minute)):
            prepared.append(_prepare(**person))
    batch = _cut(settings)

    assert batch is not None
    assert batch.day == DAY
    assert batch.letter_count == 3
    rows = manifest_rows(batch)
    assert tuple(rows[0]) == MANIFEST_COLUMNS
    assert [row["letter_id"] for row in rows] == [str(letter.id) for letter, _ in prepared]
    assert {row["batch_id"] for row in rows} == {str(batch.id)}
    assert [row["large_print"] for row in rows] == ["no", "yes", "no"]
    assert [row["postcode"] for row in rows] == [patient.postcode for _, patient in prepared]

    pdf = Path(batch.pdf_path).read_bytes()
    assert hashlib.sha256(pdf).hexdigest() == batch.sha256
    for row, (_, patient) in zip(rows, prepared, strict=True):
        first = int(row["first_page"])
        assert f"Dear {patient.given_name} {patient.family_name}" in page_text(pdf, first - 1)


def test_every_letter_starts_on_a_new_sheet_when_printed_duplex(
    database: Engine, settings: Settings
) -> None:
    _prepare()
    _prepare(large_print=True)  # two printed pages
    _prepare()
    batch = _cut(settings)

    assert batch is not None
    rows = manifest_rows(batch)
    pdf = Path(batch.pdf_path).read_bytes()
    expected_first = 1
    for row in rows:
        first, count = int(row["first_page"]), int(row["page_count"])
        assert first == expected_first
        assert first % 2 == 1
        assert count % 2 == 0
        expected_first += count
    assert page_count(pdf) == expected_first - 1
    # Padding pages are blank: every page with text belongs to the letter whose range holds it.
    for row in rows:
        first, count = int(row["first_page"]), int(row["page_count"])
        texts = [page_text(pdf, index).strip() for index in range(first - 1, first - 1 + count)]
        assert texts[0]
        if row["large_print"] == "no":
            assert texts[1:] == [""]


def test_the_manifest_and_the_letters_carry_no_clinical_detail_and_no_nhs_number(
    database: Engine, settings: Settings
) -> None:
    with session_scope() as session:
        patient = create_patient(session, given_name="Amara", family_name="Okafor")
        referral = create_referral(
            session, patient, specialty="Oncology", priority=Priority.TWO_WEEK_WAIT
        )
        attempt = create_letter_attempt(session, referral=referral)
        prepare_letter(session, attempt.id)
        nhs_number = patient.nhs_number
    batch = _cut(settings)

    assert batch is not None
    manifest = Path(batch.manifest_path).read_text(encoding="utf-8")
    for forbidden in ("Amara", "Okafor", nhs_number, "Oncology"):
        assert forbidden not in manifest
    text = all_text(Path(batch.pdf_path).read_bytes())
    assert "Dear Amara Okafor" in text
    for forbidden in (nhs_number, "Oncology", "2ww", "two week", "cancer", "urgent"):
        assert forbidden.lower() not in text.lower()


def test_cancelled_letters_are_never_printed(database: Engine, settings: Settings) -> None:
    kept, _ = _prepare(given_name="Priya", family_name="Patel")
    cancelled, _ = _prepare(given_name="Chen", family_name="Wei")
    with session_scope() as session:
        assert cancel_pending_letters(session, cancelled.referral_id, "patient_reached") == 1
    batch = _cut(settings)

    assert batch is not None
    assert [row["letter_id"] for row in manifest_rows(batch)] == [str(kept.id)]
    assert "Chen Wei" not in all_text(Path(batch.pdf_path).read_bytes())
    with session_scope() as session:
        assert session.get_one(Letter, cancelled.id).status is LetterStatus.CANCELLED
        assert session.get_one(Letter, cancelled.id).batch_id is None


def test_cutting_marks_letters_printed_and_finishes_their_attempts(
    database: Engine, settings: Settings
) -> None:
    letter, _ = _prepare()
    batch = _cut(settings)

    assert batch is not None
    with session_scope() as session:
        stored = session.get_one(Letter, letter.id)
        attempt = session.get_one(ContactAttempt, letter.attempt_id)
    assert stored.status is LetterStatus.PRINTED
    assert stored.batch_id == batch.id
    assert attempt.state is AttemptState.FINAL
    assert attempt.outcome is AttemptOutcome.LETTER_PRINTED
    assert attempt.ended_at == CUT_AT


def test_a_second_cut_on_the_same_day_changes_nothing(database: Engine, settings: Settings) -> None:
    _prepare()
    first = _cut(settings)
    assert first is not None
    pdf_before = Path(first.pdf_path).read_bytes()
    late, _ = _prepare()

    second = _cut(settings, at=CUT_AT + timedelta(minutes=30))

    assert second is None
    assert Path(first.pdf_path).read_bytes() == pdf_before
    with session_scope() as session:
        assert session.scalar(select(func.count()).select_from(PrintBatch)) == 1
        assert session.get_one(Letter, late.id).status is LetterStatus.PENDING
    next_day = _cut(settings, day=DAY + timedelta(days=1), at=CUT_AT + timedelta(days=1))
    assert next_day is not None
    assert [row["letter_id"] for row in manifest_rows(next_day)] == [str(late.id)]
    assert next_day.pdf_path != first.pdf_path


def test_a_cut_with_nothing_pending_records_no_batch(database: Engine, settings: Settings) -> None:
    assert _cut(settings) is None
    with session_scope() as session:
        assert session.scalar(select(func.count()).select_from(PrintBatch)) == 0


def test_cancelling_after_the_cut_leaves_printed_letters_alone(
    database: Engine, settings: Settings
) -> None:
    letter, _ = _prepare()
    assert _cut(settings) is not None

    with session_scope() as session:
        cancelled = cancel_pending_letters(session, letter.referral_id, "patient_booked")
    with session_scope() as session:
        stored = session.get_one(Letter, letter.id)
        attempt = session.get_one(ContactAttempt, letter.attempt_id)
    assert cancelled == 0
    assert stored.status is LetterStatus.PRINTED
    assert stored.cancel_reason is None
    assert attempt.outcome is AttemptOutcome.LETTER_PRINTED


def test_a_letter_whose_address_was_removed_before_the_cut_is_cancelled_not_printed(
    database: Engine, settings: Settings
) -> None:
    gone, patient = _prepare(given_name="Olumide", family_name="Adeyemi")
    kept, _ = _prepare()
    with session_scope() as session:
        session.get_one(Patient, patient.id).address_line_1 = None
    batch = _cut(settings)

    assert batch is not None
    assert [row["letter_id"] for row in manifest_rows(batch)] == [str(kept.id)]
    with session_scope() as session:
        stored = session.get_one(Letter, gone.id)
        attempt = session.get_one(ContactAttempt, gone.attempt_id)
    assert stored.status is LetterStatus.CANCELLED
    assert stored.cancel_reason is not None and "NoPostalAddressError" in stored.cancel_reason
    assert attempt.outcome is AttemptOutcome.LETTER_CANCELLED


def test_manifest_cells_that_a_spreadsheet_would_run_are_neutralised(
    database: Engine, settings: Settings
) -> None:
    _prepare(postcode="=1+2")
    batch = _cut(settings)

    assert batch is not None
    assert manifest_rows(batch)[0]["postcode"] == "'=1+2"
    assert [safe_cell(value) for value in ("+44", "-1", "@SUM", "\tx", "LS1 4AP")] == [
        "'+44",
        "'-1",
        "'@SUM",
        "'\tx",
        "LS1 4AP",
    ]
