"""The claim's shape: statements per claim, the in-flight count, bulk writes, attempt ids."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import Engine, event, select

from rmc_outreach import attempts, dispatch
from rmc_outreach.clock import frozen_at
from rmc_outreach.db import session_scope
from rmc_outreach.engine_config import EngineConfig
from rmc_outreach.models import (
    AttemptState,
    Channel,
    ContactAttempt,
    Priority,
    Referral,
    ReferralStatus,
)
from tests.engine.support import WEDNESDAY_10AM
from tests.factories import create_attempt, create_referral


def due_referrals(count: int, *, channel: Channel = Channel.CALL) -> list[int]:
    """``count`` referrals in outreach whose next step fell due, every priority mixed."""
    priorities = (Priority.ROUTINE, Priority.URGENT, Priority.TWO_WEEK_WAIT)
    with session_scope() as session:
        return [
            create_referral(
                session,
                priority=priorities[index % 3],
                status=ReferralStatus.IN_OUTREACH,
                next_action_at=WEDNESDAY_10AM - timedelta(minutes=index + 1),
                next_channel=channel,
            ).id
            for index in range(count)
        ]


@contextmanager
def counted_statements(engine: Engine) -> Iterator[list[tuple[str, bool]]]:
    """Every statement sent to the database inside the block, in order, with whether it was
    sent as an executemany (one execution per row on the server)."""
    statements: list[tuple[str, bool]] = []

    def record(*args: Any) -> None:
        statements.append((args[2], args[5]))

    event.listen(engine, "before_cursor_execute", record)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", record)


def claim(config: EngineConfig) -> list[dispatch.QueuedAttempt]:
    with frozen_at(WEDNESDAY_10AM), session_scope() as session:
        return dispatch.claim_due(session, config, WEDNESDAY_10AM)


def test_a_claim_sends_as_many_statements_for_thirty_referrals_as_for_three(
    database: Engine, config: EngineConfig, backend: str
) -> None:
    roomy = EngineConfig(**{**config.__dict__, "max_calls_in_flight": 100})
    with frozen_at(WEDNESDAY_10AM):
        due_referrals(3)
    with counted_statements(database) as small:
        assert len(claim(roomy)) == 3
    with frozen_at(WEDNESDAY_10AM):
        due_referrals(30)
    with counted_statements(database) as large:
        assert len(claim(roomy)) == 30

    assert len(large) == len(small)
    texts = [text.lstrip().upper() for text, _ in large]
    assert sum(text.startswith("INSERT INTO CONTACT_ATTEMPT") for text in texts) == 1
    assert sum(text.startswith("UPDATE REFERRAL") for text in texts) == 1
    if backend == "postgresql":  # one execution for the whole batch, not one per row
        assert not any(executemany for _, executemany in large)


def test_every_claimed_referral_and_its_new_attempt_are_written_as_planned(
    database: Engine, config: EngineConfig
) -> None:
    with frozen_at(WEDNESDAY_10AM):
        calls = due_referrals(4)
        texts = due_referrals(2, channel=Channel.SMS)
        with session_scope() as session:
            for referral_id in texts:  # their call step is done
                session.get_one(Referral, referral_id).journey_step = 1

    queued = claim(EngineConfig(**{**config.__dict__, "max_calls_in_flight": 100}))

    assert len(queued) == 6
    with session_scope(read_only=True) as session:
        rows = session.execute(select(ContactAttempt, Referral).join(Referral)).all()
        by_referral = {referral.id: (attempt, referral) for attempt, referral in rows}
        assert {item.attempt_id for item in queued} == {a.id for a, _ in by_referral.values()}
        for referral_id in calls + texts:
            attempt, referral = by_referral[referral_id]
            expected = Channel.SMS if referral_id in texts else Channel.CALL
            assert (attempt.channel, attempt.state) == (expected, AttemptState.PENDING)
            assert attempt.step == referral.journey_step == (2 if referral_id in texts else 1)
            assert attempt.destination == referral.patient.mobile_phone
            # Nobody is signed in: the calls offer a call back rather than a wait for a handler.
            expected_template = "invitation" if referral_id in texts else "call_back_offer"
            assert attempt.template == expected_template
            assert attempt.created_at == WEDNESDAY_10AM
            assert (referral.next_action_at, referral.next_channel) == (None, expected)
            assert referral.updated_at == WEDNESDAY_10AM


def test_a_referral_loaded_in_the_claiming_session_reads_its_new_position(
    database: Engine, config: EngineConfig
) -> None:
    with frozen_at(WEDNESDAY_10AM):
        (referral_id,) = due_referrals(1)
        with session_scope() as session:
            loaded = session.get_one(Referral, referral_id)
            assert loaded.journey_step == 0
            (item,) = dispatch.claim_due(session, config, WEDNESDAY_10AM)

            assert (loaded.journey_step, loaded.next_action_at) == (1, None)
            assert session.get_one(ContactAttempt, item.attempt_id).referral_id == referral_id


@pytest.mark.parametrize(
    "state", [state for state in AttemptState if state is not AttemptState.FINAL]
)
def test_a_call_attempt_in_any_state_but_final_counts_as_in_flight(
    database: Engine, state: AttemptState
) -> None:
    with frozen_at(WEDNESDAY_10AM), session_scope() as session:
        referral = create_referral(session, status=ReferralStatus.IN_OUTREACH)
        create_attempt(session, referral, step=1, state=state)
        create_attempt(session, referral, step=2, state=AttemptState.FINAL)
        create_attempt(session, referral, step=3, state=state, channel=Channel.SMS)

        assert dispatch.calls_in_flight(session) == 1


def test_new_attempt_ids_are_version_7_uuids_that_sort_in_creation_order() -> None:
    first = attempts.time_ordered_id()
    time.sleep(0.002)  # a later millisecond
    second = attempts.time_ordered_id()

    assert (first.version, second.version) == (7, 7)
    assert first < second
    assert str(first) < str(second)  # also as stored on SQLite (text)
    assert len({attempts.time_ordered_id() for _ in range(1000)}) == 1000


def test_a_step_already_tried_on_that_channel_is_skipped_and_the_rest_of_the_batch_goes(
    database: Engine, config: EngineConfig
) -> None:
    with frozen_at(WEDNESDAY_10AM):
        tried, fresh = due_referrals(2)
        with session_scope() as session:
            # Step 1 (a call) was already made, yet the referral is planned at step 0 again.
            earlier = create_attempt(
                session, session.get_one(Referral, tried), state=AttemptState.FINAL
            ).id

    queued = claim(config)

    with session_scope(read_only=True) as session:
        attempt_ids = session.scalars(
            select(ContactAttempt.id).where(ContactAttempt.referral_id == tried)
        ).all()
        assert attempt_ids == [earlier]  # the patient is not called twice for step 1
        skipped = session.get_one(Referral, tried)
        assert (skipped.journey_step, skipped.next_action_at, skipped.next_channel) == (
            1,
            WEDNESDAY_10AM,
            None,
        )
        (item,) = queued
        assert session.get_one(ContactAttempt, item.attempt_id).referral_id == fresh
        assert session.get_one(Referral, fresh).journey_step == 1


def test_a_pending_attempt_of_the_current_step_is_queued_again_rather_than_a_new_one(
    database: Engine, config: EngineConfig
) -> None:
    with frozen_at(WEDNESDAY_10AM):
        (referral_id,) = due_referrals(1)
        with session_scope() as session:
            referral = session.get_one(Referral, referral_id)
            referral.journey_step = 1
            waiting = create_attempt(session, referral, step=1).id
            create_attempt(session, referral, step=2, channel=Channel.SMS, state=AttemptState.FINAL)

    queued = claim(config)

    assert queued == [dispatch.QueuedAttempt(waiting, Channel.CALL)]
    with session_scope(read_only=True) as session:
        referral = session.get_one(Referral, referral_id)
        assert (referral.journey_step, referral.next_action_at) == (1, None)
        assert len(session.scalars(select(ContactAttempt.id)).all()) == 2


def test_a_patient_who_opted_out_after_planning_ends_the_journey_while_the_batch_is_claimed(
    database: Engine, config: EngineConfig
) -> None:
    with frozen_at(WEDNESDAY_10AM):
        opted_out, other = due_referrals(2)
        with session_scope() as session:
            patient = session.get_one(Referral, opted_out).patient
            patient.contact_opted_out_at = WEDNESDAY_10AM - timedelta(minutes=1)

    queued = claim(config)

    with session_scope(read_only=True) as session:
        ended = session.get_one(Referral, opted_out)
        assert (ended.status, ended.journey_end_reason) == (ReferralStatus.EXHAUSTED, "opted_out")
        assert ended.next_action_at is None
        referral_ids = session.scalars(select(ContactAttempt.referral_id)).all()
        assert referral_ids == [other]
        assert [
            session.get_one(ContactAttempt, item.attempt_id).referral_id for item in queued
        ] == [other]
