"""An attempt's state only moves forward, one worker wins each claim, and final absorbs."""

from __future__ import annotations

import threading
import uuid

from sqlalchemy import Engine

from rmc_outreach import attempts, progress
from rmc_outreach.clock import frozen_at
from rmc_outreach.db import session_scope
from rmc_outreach.models import AttemptOutcome, AttemptState, Channel, ContactAttempt
from tests.engine.support import WEDNESDAY_10AM
from tests.factories import create_attempt, create_referral


def new_attempt(**overrides: object) -> uuid.UUID:
    with session_scope() as session:
        referral = create_referral(session)
        return create_attempt(session, referral, **overrides).id


def load(attempt_id: uuid.UUID) -> ContactAttempt:
    with session_scope(read_only=True) as session:
        return attempts.get(session, attempt_id)


def test_two_workers_claiming_the_same_attempt_at_once_have_exactly_one_winner(
    database: Engine,
) -> None:
    attempt_id = new_attempt()
    barrier = threading.Barrier(2)
    wins: list[bool] = []

    def worker() -> None:
        barrier.wait()
        with session_scope() as session:
            wins.append(attempts.claim(session, attempt_id))

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(wins) == [False, True]
    assert load(attempt_id).state is AttemptState.CLAIMED


def test_a_claimed_attempt_cannot_be_claimed_again_later(database: Engine) -> None:
    attempt_id = new_attempt()
    with session_scope() as session:
        assert attempts.claim(session, attempt_id)
    with session_scope() as session:
        assert not attempts.claim(session, attempt_id)


def test_a_final_attempt_ignores_a_second_finish_and_keeps_its_outcome(database: Engine) -> None:
    attempt_id = new_attempt(state=AttemptState.SENT, provider_sid="CA" + "1" * 32)
    with session_scope() as session:
        assert attempts.finish(session, attempt_id, AttemptOutcome.BUSY)
    with session_scope() as session:
        assert not attempts.finish(session, attempt_id, AttemptOutcome.FAILED, error_reason="late")
        assert not attempts.mark_sent(session, attempt_id, "CA" + "1" * 32)
        assert not attempts.claim(session, attempt_id)
        assert not attempts.mark_uncertain(session, attempt_id, "late")
        assert not attempts.release(session, attempt_id)

    attempt = load(attempt_id)
    assert (attempt.state, attempt.outcome, attempt.error_reason) == (
        AttemptState.FINAL,
        AttemptOutcome.BUSY,
        None,
    )


def test_sent_recorded_after_a_racing_final_status_keeps_final_and_adopts_the_sid(
    database: Engine,
) -> None:
    attempt_id = new_attempt(state=AttemptState.CLAIMED)
    with session_scope() as session:
        attempts.finish(session, attempt_id, AttemptOutcome.NO_ANSWER)
    with session_scope() as session:
        assert not attempts.mark_sent(session, attempt_id, "CA" + "2" * 32)

    attempt = load(attempt_id)
    assert attempt.state is AttemptState.FINAL
    assert attempt.provider_sid == "CA" + "2" * 32


def test_a_fact_is_recorded_once_and_never_overwritten(database: Engine) -> None:
    attempt_id = new_attempt(state=AttemptState.SENT)
    with session_scope() as session:
        first = attempts.annotate(session, attempt_id, answered_by="human", ring_seconds=7)
    with session_scope() as session:
        second = attempts.annotate(session, attempt_id, answered_by="machine_end_beep")

    assert first == {"answered_by", "ring_seconds"}
    assert second == frozenset()
    assert load(attempt_id).answered_by == "human"


def test_only_an_attempt_with_no_provider_id_can_be_released_to_pending(database: Engine) -> None:
    with frozen_at(WEDNESDAY_10AM):
        without_sid = new_attempt(state=AttemptState.UNCERTAIN, claimed_at=WEDNESDAY_10AM)
        with_sid = new_attempt(state=AttemptState.CLAIMED, provider_sid="CA" + "3" * 32)
        with session_scope() as session:
            assert attempts.release(session, without_sid)
            assert not attempts.release(session, with_sid)

    released = load(without_sid)
    assert (released.state, released.claimed_at) == (AttemptState.PENDING, None)
    assert load(with_sid).state is AttemptState.CLAIMED


def test_a_second_attempt_for_the_same_step_and_channel_is_refused(database: Engine) -> None:
    with session_scope() as session:
        referral = create_referral(session)
        referral_id = referral.id
        first = attempts.create(session, referral_id=referral_id, step=1, channel=Channel.CALL)
        second = attempts.create(session, referral_id=referral_id, step=1, channel=Channel.CALL)
        other_channel = attempts.create(
            session, referral_id=referral_id, step=1, channel=Channel.SMS
        )

    assert first is not None and other_channel is not None
    assert second is None
    with session_scope(read_only=True) as session:
        assert sorted(progress.attempt_ids_of(session, referral_id)) == sorted(
            [first, other_channel]
        )
