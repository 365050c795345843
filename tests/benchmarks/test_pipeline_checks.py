"""The pipeline benchmark's checks find the violations they count: its zeros mean something."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Engine

from benchmarks.pipeline_parts.checks import Outcome, check_outcome
from rmc_outreach.calendar import CallingWindow
from rmc_outreach.db import session_scope
from rmc_outreach.events import EventKind, mark_processed, record_event
from rmc_outreach.models import AttemptOutcome, AttemptState, Channel, ReferralStatus
from tests.factories import create_attempt, create_referral

MONDAY_10AM = datetime(2026, 11, 30, 10, 0, tzinfo=UTC)
SATURDAY_NOON = datetime(2026, 12, 5, 12, 0, tzinfo=UTC)
WINDOW = CallingWindow()


class LedgerBuilder:
    """Ledger entries in the simulator's shapes, numbered in order."""

    def __init__(self) -> None:
        self.entries: list[dict[str, Any]] = []

    def add(self, kind: str, at: datetime = MONDAY_10AM, **fields: Any) -> None:
        entry = {"kind": kind, "at": at.isoformat(), "seq": len(self.entries)}
        self.entries.append(entry | fields)

    def call(self, attempt_id: uuid.UUID, at: datetime = MONDAY_10AM, status: int = 201) -> None:
        self.add("request", at, operation="create_call", status=status, attempt_id=str(attempt_id))

    def text(self, attempt_id: uuid.UUID, to: str, at: datetime = MONDAY_10AM) -> None:
        self.add(
            "request", at, operation="create_message", status=201, attempt_id=str(attempt_id), to=to
        )

    def reply(self, sender: str, keyword: str, webhook_status: int = 200) -> None:
        sent_by: dict[str, Any] = {"from": sender}
        self.add("sms_reply", keyword=keyword, webhook_status=webhook_status, **sent_by)


def finished_referral_with(**attempt_fields: Any) -> uuid.UUID:
    with session_scope() as session:
        referral = create_referral(session, status=ReferralStatus.REACHED)
        fields: dict[str, Any] = {
            "state": AttemptState.FINAL,
            "outcome": AttemptOutcome.NO_ANSWER,
            "claimed_at": MONDAY_10AM,
        }
        fields.update(attempt_fields)
        return create_attempt(session, referral, **fields).id


def checked(ledger: LedgerBuilder) -> Outcome:
    with session_scope(read_only=True) as session:
        return check_outcome(session, ledger.entries, WINDOW)


def test_a_clean_run_has_no_violations_and_counts_its_complete_call(database: Engine) -> None:
    sid = "CA" + "1" * 32
    attempt_id = finished_referral_with(provider_sid=sid)
    with session_scope() as session:
        event_id = record_event(
            session,
            event_key=f"call-status:{sid}:no-answer:3",
            kind=EventKind.CALL_STATUS,
            payload={},
            attempt_id=attempt_id,
        )
        assert event_id is not None and mark_processed(session, event_id)
    ledger = LedgerBuilder()
    ledger.call(attempt_id)

    outcome = checked(ledger)

    violations = (
        outcome.duplicate_calls,
        outcome.contacts_outside_hours,
        outcome.sms_after_opt_out,
        outcome.unfinished_referrals,
    )
    assert violations == (0, 0, 0, 0)
    assert (outcome.calls, outcome.complete_calls) == (1, 1)


def test_a_call_with_a_callback_not_applied_is_not_complete(database: Engine) -> None:
    sid = "CA" + "2" * 32
    attempt_id = finished_referral_with(provider_sid=sid)
    with session_scope() as session:
        record_event(
            session,
            event_key=f"call-status:{sid}:no-answer:3",
            kind=EventKind.CALL_STATUS,
            payload={},
            attempt_id=attempt_id,
        )
    ledger = LedgerBuilder()
    ledger.call(attempt_id)

    assert checked(ledger).complete_calls == 0


def test_a_second_call_for_the_same_attempt_is_a_duplicate(database: Engine) -> None:
    attempt_id = finished_referral_with()
    ledger = LedgerBuilder()
    ledger.call(attempt_id)
    ledger.call(attempt_id, at=MONDAY_10AM + timedelta(minutes=3))
    ledger.call(attempt_id, status=400)  # refused: not a call

    assert checked(ledger).duplicate_calls == 1


def test_a_call_or_text_created_on_a_saturday_is_outside_hours(database: Engine) -> None:
    call_id = finished_referral_with()
    text_id = finished_referral_with(channel=Channel.SMS, outcome=AttemptOutcome.DELIVERED)
    ledger = LedgerBuilder()
    ledger.call(call_id, at=SATURDAY_NOON)
    ledger.text(text_id, "+447700900001", at=SATURDAY_NOON)

    assert checked(ledger).contacts_outside_hours == 2


def test_a_text_after_a_stop_we_received_counts_until_the_number_texts_start(
    database: Engine,
) -> None:
    number, lost_stop_number = "+447700900002", "+447700900003"
    first, second, third = (
        finished_referral_with(channel=Channel.SMS, outcome=AttemptOutcome.DELIVERED)
        for _ in range(3)
    )
    ledger = LedgerBuilder()
    ledger.reply(number, "stop")
    ledger.text(first, number)  # after STOP: a violation
    ledger.reply(number, "start")
    ledger.text(second, number)  # opted back in: fine
    ledger.reply(lost_stop_number, "stop", webhook_status=0)  # never reached us
    ledger.text(third, lost_stop_number)

    assert checked(ledger).sms_after_opt_out == 1


def test_open_referrals_and_attempts_not_final_are_unfinished(database: Engine) -> None:
    finished_referral_with(state=AttemptState.SENT, outcome=None)
    with session_scope() as session:
        create_referral(session, status=ReferralStatus.IN_OUTREACH)

    outcome = checked(LedgerBuilder())

    assert (outcome.unfinished_referrals, outcome.unfinished_attempts) == (2, 1)


def test_calls_to_handlers_are_not_patient_contacts(database: Engine) -> None:
    ledger = LedgerBuilder()
    ledger.add("request", SATURDAY_NOON, operation="create_call", status=201, to="client:h_1")
    ledger.add("request", MONDAY_10AM, operation="create_call", status=201, to="sip:desk@rmc.nhs")

    outcome = checked(ledger)

    assert (outcome.calls, outcome.calls_without_attempt, outcome.contacts_outside_hours) == (
        0,
        0,
        0,
    )
