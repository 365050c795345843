"""Preparing and cancelling letters, on every database backend."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import Engine, func, select

from rmc_outreach.clock import frozen_at
from rmc_outreach.db import session_scope
from rmc_outreach.letters import (
    LetterNotPossibleError,
    NoPostalAddressError,
    UnprintableTextError,
    cancel_pending_letters,
    prepare_letter,
    preview_letter_pdf,
)
from rmc_outreach.models import (
    AttemptOutcome,
    AttemptState,
    Channel,
    ContactAttempt,
    Letter,
    LetterStatus,
    Referral,
)
from tests.letters.pdf_inspection import all_text
from tests.letters.support import create_letter_attempt


def test_preparing_a_letter_twice_for_one_attempt_returns_the_same_letter(
    database: Engine,
) -> None:
    with session_scope() as session:
        attempt = create_letter_attempt(session)
        first = prepare_letter(session, attempt.id)
    with session_scope() as session:
        second = prepare_letter(session, attempt.id)
        count = session.scalar(select(func.count()).select_from(Letter))
    assert second.id == first.id
    assert count == 1
    assert second.status is LetterStatus.PENDING
    assert second.referral_id == attempt.referral_id


def test_a_letter_is_large_print_when_the_patient_asks_for_it(database: Engine) -> None:
    with session_scope() as session:
        large = prepare_letter(session, create_letter_attempt(session, large_print=True).id)
        normal = prepare_letter(session, create_letter_attempt(session).id)
    assert (large.large_print, normal.large_print) == (True, False)


@pytest.mark.parametrize(
    "missing", [{"address_line_1": None}, {"postcode": None}, {"postcode": "  "}]
)
def test_a_patient_without_a_postal_address_gets_no_letter(
    database: Engine, missing: dict[str, Any]
) -> None:
    with session_scope() as session:
        attempt = create_letter_attempt(session, **missing)
        with pytest.raises(NoPostalAddressError, match="no postal address"):
            prepare_letter(session, attempt.id)
        assert session.scalar(select(func.count()).select_from(Letter)) == 0


def test_a_name_the_letter_font_cannot_print_is_refused_before_the_letter_is_recorded(
    database: Engine,
) -> None:
    with session_scope() as session:
        attempt = create_letter_attempt(session, given_name="秀英", family_name="王")
        with pytest.raises(UnprintableTextError):
            prepare_letter(session, attempt.id)
        assert session.scalar(select(func.count()).select_from(Letter)) == 0


def test_only_a_letter_attempt_can_have_a_letter(database: Engine) -> None:
    with session_scope() as session:
        attempt = create_letter_attempt(session)
        attempt.channel = Channel.SMS
        session.flush()
        with pytest.raises(LetterNotPossibleError, match="sms attempt"):
            prepare_letter(session, attempt.id)


def test_a_final_attempt_gets_no_new_letter(database: Engine) -> None:
    with session_scope() as session:
        attempt = create_letter_attempt(session)
        attempt.state = AttemptState.FINAL
        attempt.outcome = AttemptOutcome.CANCELED
        session.flush()
        with pytest.raises(LetterNotPossibleError, match="already final"):
            prepare_letter(session, attempt.id)


def test_cancelling_stops_the_referrals_pending_letters_and_finishes_their_attempts(
    database: Engine,
) -> None:
    with session_scope() as session:
        attempt = create_letter_attempt(session)
        other = create_letter_attempt(session)
        letter = prepare_letter(session, attempt.id)
        other_letter = prepare_letter(session, other.id)
    with session_scope() as session:
        cancelled = cancel_pending_letters(session, attempt.referral_id, "patient_reached")
    with session_scope() as session:
        stored = session.get_one(Letter, letter.id)
        untouched = session.get_one(Letter, other_letter.id)
        finished = session.get_one(ContactAttempt, attempt.id)
    assert cancelled == 1
    assert stored.status is LetterStatus.CANCELLED
    assert stored.cancel_reason == "patient_reached"
    assert stored.cancelled_at is not None
    assert finished.state is AttemptState.FINAL
    assert finished.outcome is AttemptOutcome.LETTER_CANCELLED
    assert untouched.status is LetterStatus.PENDING


def test_cancelling_twice_cancels_nothing_more(database: Engine) -> None:
    with session_scope() as session:
        attempt = create_letter_attempt(session)
        prepare_letter(session, attempt.id)
    with session_scope() as session:
        first = cancel_pending_letters(session, attempt.referral_id, "patient_reached")
    with session_scope() as session:
        second = cancel_pending_letters(session, attempt.referral_id, "patient_booked")
        letter = session.scalars(select(Letter)).one()
    assert (first, second) == (1, 0)
    assert letter.cancel_reason == "patient_reached"


def test_a_recorded_letter_previews_with_the_patients_current_address(database: Engine) -> None:
    with session_scope() as session:
        attempt = create_letter_attempt(session, given_name="Eilidh", family_name="MacLeod")
        letter = prepare_letter(session, attempt.id)
        patient = session.get_one(Referral, attempt.referral_id).patient
        patient.address_line_1 = "7 New Street"
    with frozen_at(datetime(2026, 6, 30, 23, 30, tzinfo=UTC)), session_scope() as session:
        pdf = preview_letter_pdf(session, letter.id)
    text = all_text(pdf)
    assert "Dear Eilidh MacLeod" in text
    assert "7 New Street" in text
    assert "1 July 2026" in text  # 23:30 UTC on 30 June is 00:30 on 1 July in London (BST)
