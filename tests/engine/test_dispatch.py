"""Dispatch: priority order, caps, the calling window, and claims that never overlap."""

from __future__ import annotations

import threading
from datetime import date, datetime, timedelta

import pytest
from sqlalchemy import Engine, select, text

from rmc_outreach import attempts, dispatch, handlers, outreach, pacing
from rmc_outreach.clock import frozen_at
from rmc_outreach.db import session_scope
from rmc_outreach.engine_config import EngineConfig
from rmc_outreach.models import (
    AttemptOutcome,
    AttemptState,
    Channel,
    ContactAttempt,
    HandlerState,
    Handoff,
    Patient,
    Priority,
    Referral,
    ReferralStatus,
)
from tests.engine.support import (
    CHRISTMAS_10AM,
    SATURDAY_11AM,
    WEDNESDAY_10AM,
    WEDNESDAY_EVENING,
    FakeProvider,
)
from tests.factories import create_attempt, create_referral


def due_referral(priority: Priority, due_minutes_ago: int, channel: Channel = Channel.CALL) -> int:
    """A referral in outreach whose first step (a call) fell due some minutes ago; or, for
    ``channel=SMS``, whose first call went unanswered and whose text (step 2) is due."""
    due_at = WEDNESDAY_10AM - timedelta(minutes=due_minutes_ago)
    with session_scope() as session:
        referral = create_referral(
            session,
            priority=priority,
            status=ReferralStatus.IN_OUTREACH,
            next_action_at=due_at,
            next_channel=channel,
            journey_step=0 if channel is Channel.CALL else 1,
            last_contact_at=None if channel is Channel.CALL else due_at - timedelta(minutes=10),
        )
        return referral.id


def queued_referral_ids(result: dispatch.DispatchResult) -> list[int]:
    with session_scope(read_only=True) as session:
        by_attempt = dict(
            session.execute(select(ContactAttempt.id, ContactAttempt.referral_id)).all()
        )
    return [by_attempt[item.attempt_id] for item in result.queued]


def test_due_referrals_are_claimed_2ww_then_urgent_then_routine_earliest_due_first(
    database: Engine, config: EngineConfig
) -> None:
    with frozen_at(WEDNESDAY_10AM):
        routine_old = due_referral(Priority.ROUTINE, 50)
        urgent_new = due_referral(Priority.URGENT, 5)
        two_week_wait = due_referral(Priority.TWO_WEEK_WAIT, 1)
        urgent_old = due_referral(Priority.URGENT, 30)
        routine_new = due_referral(Priority.ROUTINE, 2)

        result = dispatch.run_dispatch(config)

    assert queued_referral_ids(result) == [
        two_week_wait,
        urgent_old,
        urgent_new,
        routine_old,
        routine_new,
    ]
    assert all(item.channel is Channel.CALL for item in result.queued)


def test_a_run_claims_at_most_the_batch_size_and_leaves_the_rest_due(
    database: Engine, config: EngineConfig
) -> None:
    small = EngineConfig(**{**config.__dict__, "dispatch_batch_size": 2})
    with frozen_at(WEDNESDAY_10AM):
        ids = [due_referral(Priority.ROUTINE, minutes) for minutes in (40, 30, 20)]
        first = dispatch.run_dispatch(small)
        second = dispatch.run_dispatch(small)

    assert queued_referral_ids(first) == ids[:2]
    assert queued_referral_ids(second) == ids[2:]


def test_calls_stop_being_claimed_at_the_in_flight_cap_while_texts_still_go(
    database: Engine, config: EngineConfig
) -> None:
    capped = EngineConfig(**{**config.__dict__, "max_calls_in_flight": 2})
    with frozen_at(WEDNESDAY_10AM):
        calls = [due_referral(Priority.ROUTINE, minutes) for minutes in (40, 30, 20)]
        text = due_referral(Priority.ROUTINE, 10, channel=Channel.SMS)
        with session_scope() as session:
            session.get_one(Referral, text).journey_step = 1  # its call step is done

        first = dispatch.run_dispatch(capped)
        second = dispatch.run_dispatch(capped)

        with session_scope() as session:  # one call ends: a slot frees up
            attempts.finish(session, first.queued[0].attempt_id, AttemptOutcome.NO_ANSWER)
        third = dispatch.run_dispatch(capped)

    assert queued_referral_ids(first) == [calls[0], calls[1], text]
    assert queued_referral_ids(second) == []  # two calls still queued: no room for the third
    # The third referral's call waited for a slot: it was not skipped in its journey.
    assert queued_referral_ids(third) == [calls[2]]
    assert [item.channel for item in third.queued] == [Channel.CALL]
    with session_scope(read_only=True) as session:
        assert session.get_one(Referral, calls[2]).journey_step == 1


@pytest.mark.parametrize(
    "moment",
    [WEDNESDAY_EVENING, SATURDAY_11AM, CHRISTMAS_10AM],
    ids=["weekday-evening", "saturday", "christmas-day"],
)
def test_nothing_is_dialled_or_texted_outside_the_calling_window(
    database: Engine, config: EngineConfig, provider: FakeProvider, moment: datetime
) -> None:
    with frozen_at(WEDNESDAY_10AM):
        call_id = due_referral(Priority.TWO_WEEK_WAIT, 5)
        # An attempt already queued before the window closed must not go out either.
        queued_before = dispatch.run_dispatch(config).queued
        with session_scope() as session:
            waiting = create_referral(session).id

    with frozen_at(moment):
        late = dispatch.run_dispatch(config)
        results = [outreach.place_call(item.attempt_id, provider, config) for item in queued_before]

    assert late.queued == []
    assert results == [outreach.WorkResult.DEFERRED]
    assert provider.calls == [] and provider.messages == []
    with session_scope(read_only=True) as session:
        deferred = session.get_one(Referral, call_id)
        assert deferred.next_action_at == config.window.next_open(moment)
        assert session.scalars(select(ContactAttempt.state)).all() == [AttemptState.PENDING]
        # Waiting referrals are still admitted and planned out of hours: for the next opening.
        admitted = session.get_one(Referral, waiting)
        assert admitted.status is ReferralStatus.IN_OUTREACH
        assert admitted.next_action_at is not None
        assert config.window.is_open(admitted.next_action_at)
        assert admitted.next_action_at >= config.window.next_open(moment)


def test_a_deferred_attempt_is_queued_again_when_the_window_opens(
    database: Engine, config: EngineConfig, provider: FakeProvider
) -> None:
    with frozen_at(WEDNESDAY_10AM):
        due_referral(Priority.ROUTINE, 5)
        (item,) = dispatch.run_dispatch(config).queued
    with frozen_at(WEDNESDAY_EVENING):
        assert (
            outreach.place_call(item.attempt_id, provider, config) is outreach.WorkResult.DEFERRED
        )
    opening = config.window.next_open(WEDNESDAY_EVENING)
    with frozen_at(opening):
        again = dispatch.run_dispatch(config).queued
        result = outreach.place_call(item.attempt_id, provider, config)

    assert again == [item]
    assert result is outreach.WorkResult.SENT
    assert len(provider.calls) == 1
    assert opening.date() == date(2026, 11, 26)


def test_waiting_referrals_are_admitted_and_their_first_call_planned_then_claimed(
    database: Engine, config: EngineConfig
) -> None:
    with frozen_at(WEDNESDAY_10AM):
        with session_scope() as session:
            referral_id = create_referral(session, priority=Priority.URGENT).id
        result = dispatch.run_dispatch(config)

    assert (result.admitted, result.planned) == (1, 1)
    assert queued_referral_ids(result) == [referral_id]
    with session_scope(read_only=True) as session:
        referral = session.get_one(Referral, referral_id)
        assert (referral.status, referral.journey_step) == (ReferralStatus.IN_OUTREACH, 1)
        assert referral.next_action_at is None  # its step is under way
        attempt = session.scalars(select(ContactAttempt)).one()
        assert (attempt.step, attempt.channel) == (1, Channel.CALL)
        assert attempt.destination == referral.patient.mobile_phone


def test_a_patient_with_no_usable_channel_is_handed_back_to_people(
    database: Engine, config: EngineConfig
) -> None:
    with frozen_at(WEDNESDAY_10AM):
        with session_scope() as session:
            referral = create_referral(session)
            referral.patient.mobile_phone = None
            referral.patient.address_line_1 = None
            referral_id = referral.id
        result = dispatch.run_dispatch(config)

    assert (result.ended, result.queued) == (1, [])
    with session_scope(read_only=True) as session:
        referral = session.get_one(Referral, referral_id)
        assert referral.status is ReferralStatus.EXHAUSTED
        assert referral.journey_end_reason == "no_usable_channel"


def test_concurrent_postgresql_claims_run_one_after_the_other_and_share_the_call_cap(
    database: Engine, config: EngineConfig, backend: str
) -> None:
    # Beat's run and a run kicked by a handler becoming free may overlap: the second must
    # wait for the first's commit, then count its calls (30 in flight at most, not 2 x 20).
    if backend != "postgresql":
        pytest.skip("the advisory lock is PostgreSQL's; SQLite's BEGIN IMMEDIATE serialises")
    with frozen_at(WEDNESDAY_10AM):
        ids = [due_referral(Priority.ROUTINE, minutes) for minutes in range(60, 0, -1)]
    small = EngineConfig(
        **{**config.__dict__, "dispatch_batch_size": 20, "max_calls_in_flight": 30}
    )
    first_claimed = threading.Event()
    release_first = threading.Event()
    second_done = threading.Event()
    claimed: dict[str, list[dispatch.QueuedAttempt]] = {}

    def first_worker() -> None:
        with frozen_at(WEDNESDAY_10AM), session_scope() as session:
            claimed["first"] = dispatch.claim_due(session, small, WEDNESDAY_10AM)
            first_claimed.set()
            release_first.wait(timeout=30)  # hold the transaction open

    def second_worker() -> None:
        with frozen_at(WEDNESDAY_10AM), session_scope() as session:
            claimed["second"] = dispatch.claim_due(session, small, WEDNESDAY_10AM)
        second_done.set()

    first = threading.Thread(target=first_worker)
    first.start()
    assert first_claimed.wait(timeout=30)
    second = threading.Thread(target=second_worker)
    second.start()
    waited = not second_done.wait(timeout=1.0)
    release_first.set()
    first.join()
    second.join()

    assert waited  # the second claim could not run while the first was uncommitted
    first_ids = {item.attempt_id for item in claimed["first"]}
    second_ids = {item.attempt_id for item in claimed["second"]}
    assert (len(first_ids), len(second_ids)) == (20, 10)
    assert first_ids.isdisjoint(second_ids)
    with session_scope(read_only=True) as session:
        claimed_referrals = session.scalars(select(ContactAttempt.referral_id)).all()
    assert sorted(claimed_referrals) == sorted(ids[:30])


def test_calls_deferred_as_the_window_closed_hold_no_slot_and_go_the_next_morning(
    database: Engine, config: EngineConfig, provider: FakeProvider
) -> None:
    capped = EngineConfig(**{**config.__dict__, "max_calls_in_flight": 2})
    with frozen_at(WEDNESDAY_10AM):
        for minutes in (20, 10):
            due_referral(Priority.ROUTINE, minutes)
        queued = dispatch.run_dispatch(capped).queued
    # A cap's worth of calls claimed just before closing: the workers defer every one.
    with frozen_at(WEDNESDAY_EVENING):
        deferred = [outreach.place_call(item.attempt_id, provider, capped) for item in queued]
    with frozen_at(WEDNESDAY_EVENING), session_scope(read_only=True) as session:
        slots_held = dispatch.calls_in_flight(session)
    opening = config.window.next_open(WEDNESDAY_EVENING)

    with frozen_at(opening):
        again = dispatch.run_dispatch(capped).queued
        placed = [outreach.place_call(item.attempt_id, provider, capped) for item in again]

    assert deferred == [outreach.WorkResult.DEFERRED] * 2
    assert slots_held == 0
    assert sorted(item.attempt_id for item in again) == sorted(i.attempt_id for i in queued)
    assert placed == [outreach.WorkResult.SENT] * 2
    assert len(provider.calls) == 2


def test_no_attempt_is_claimed_in_the_last_seconds_before_the_window_closes(
    database: Engine, config: EngineConfig, provider: FakeProvider
) -> None:
    with frozen_at(WEDNESDAY_10AM):
        referral_id = due_referral(Priority.ROUTINE, 5)
        (item,) = dispatch.run_dispatch(config).queued
    just_before_closing = config.window.closing(WEDNESDAY_10AM.date()) - timedelta(seconds=2)

    with frozen_at(just_before_closing):
        result = outreach.place_call(item.attempt_id, provider, config)

    assert result is outreach.WorkResult.DEFERRED
    assert provider.calls == []
    with session_scope(read_only=True) as session:
        assert session.get_one(Referral, referral_id).next_action_at == config.window.opening(
            date(2026, 11, 26)
        )


def test_a_paused_priority_is_not_contacted_until_outreach_resumes(
    database: Engine, config: EngineConfig
) -> None:
    with frozen_at(WEDNESDAY_10AM):
        urgent = due_referral(Priority.URGENT, 10)
        routine = due_referral(Priority.ROUTINE, 20)
        with session_scope() as session:
            pacing.pause(session, Priority.ROUTINE, reason="clinic list full", actor_label="test")
        while_paused = queued_referral_ids(dispatch.run_dispatch(config))
        with session_scope() as session:
            pacing.resume(session, Priority.ROUTINE, actor_label="test")
        after_resume = queued_referral_ids(dispatch.run_dispatch(config))

    assert while_paused == [urgent]
    assert after_resume == [routine]


def test_no_call_within_the_lockout_after_an_abandoned_call_but_texts_still_go(
    database: Engine, config: EngineConfig
) -> None:
    abandoned_at = WEDNESDAY_10AM - timedelta(hours=71, minutes=59)
    with frozen_at(WEDNESDAY_10AM):
        locked_call = due_referral(Priority.URGENT, 10)
        locked_text = due_referral(Priority.URGENT, 5, channel=Channel.SMS)
        free_call = due_referral(Priority.ROUTINE, 20)
        with session_scope() as session:
            for referral_id in (locked_call, locked_text):
                referral = session.get_one(Referral, referral_id)
                earlier = create_attempt(
                    session, referral, state=AttemptState.FINAL, step=0, created_at=abandoned_at
                )
                session.add(
                    Handoff(
                        attempt_id=earlier.id,
                        referral_id=referral_id,
                        queued_at=abandoned_at,
                        ended_at=abandoned_at,
                        abandoned=True,
                    )
                )
        first = queued_referral_ids(dispatch.run_dispatch(config))
    with session_scope(read_only=True) as session:
        held_until = session.get_one(Referral, locked_call).next_action_at
    with frozen_at(abandoned_at + timedelta(hours=72, minutes=1)):
        later = queued_referral_ids(dispatch.run_dispatch(config))

    assert first == [locked_text, free_call]
    assert held_until == abandoned_at + timedelta(hours=72)  # due again when the lockout ends
    assert later == [locked_call]


def _handler_in(state: HandlerState, number: int) -> None:
    with session_scope() as session:
        handler = handlers.create_handler(session, None, f"Handler {number}", f"client:h{number}")
        path = {
            HandlerState.AVAILABLE: [HandlerState.AVAILABLE],
            HandlerState.ON_CALL: [HandlerState.AVAILABLE, HandlerState.RINGING, state],
        }[state]
        for step in path:
            handlers.change_state(session, handler.id, step)


@pytest.mark.parametrize(
    ("floor", "calls_per_second", "expected_calls"),
    [
        ([], 1, 5),  # nobody signed in: the cap on calls in flight alone
        ([HandlerState.AVAILABLE] * 2, 1, 1),  # 1 call/s for the 1 s between dispatch runs
        # One per free handler: nobody has answered a call today yet, so the day could not
        # absorb an abandoned call (pacing.PacingInputs.day_allowance).
        ([HandlerState.AVAILABLE] * 2, 10, 2),
        ([HandlerState.ON_CALL], 10, 0),  # signed in, none free: no call, texts still go
    ],
)
def test_calls_start_as_pacing_allows_while_handlers_are_signed_in(
    database: Engine,
    config: EngineConfig,
    floor: list[HandlerState],
    calls_per_second: int,
    expected_calls: int,
) -> None:
    paced = EngineConfig(**{**config.__dict__, "max_calls_per_second": calls_per_second})
    with frozen_at(WEDNESDAY_10AM):
        for number, state in enumerate(floor):
            _handler_in(state, number)
        for minutes in range(5):
            due_referral(Priority.ROUTINE, 30 + minutes)
        text = due_referral(Priority.ROUTINE, 1, channel=Channel.SMS)
        result = dispatch.run_dispatch(paced)

    calls = [item for item in result.queued if item.channel is Channel.CALL]
    assert len(calls) == expected_calls
    assert text in queued_referral_ids(result)


def test_calls_started_with_nobody_signed_in_offer_a_call_back_when_answered(
    database: Engine, config: EngineConfig, provider: FakeProvider
) -> None:
    with frozen_at(WEDNESDAY_10AM):
        unpaced = due_referral(Priority.ROUTINE, 20)
        first = dispatch.run_dispatch(config).queued
        for number in (1, 2):  # sign in before the call is placed
            _handler_in(HandlerState.AVAILABLE, number)
        paced = due_referral(Priority.ROUTINE, 10)
    # The next dispatch run, a second later (one call per second).
    with frozen_at(WEDNESDAY_10AM + dispatch.DISPATCH_INTERVAL):
        second = dispatch.run_dispatch(config).queued
        for item in first + second:
            outreach.place_call(item.attempt_id, provider, config)

    with session_scope(read_only=True) as session:
        templates = dict(
            session.execute(select(ContactAttempt.referral_id, ContactAttempt.template)).all()
        )
    assert templates == {unpaced: "call_back_offer", paced: None}
    answer_urls = sorted(call.answer_url for call in provider.calls)
    assert [url.endswith("/answer?offer=call_back") for url in answer_urls].count(True) == 1
    assert [url.endswith("/answer") for url in answer_urls].count(True) == 1


def test_a_postgresql_claim_alone_commits_without_waiting_for_the_wal_flush(
    database: Engine, backend: str
) -> None:
    # Safe because the worker's own claim commits synchronously before any contact
    # (dispatch.serialise_claims); every other transaction keeps the server's setting.
    if backend != "postgresql":
        pytest.skip("synchronous_commit is PostgreSQL's")
    with session_scope() as session:
        dispatch.serialise_claims(session)
        during = session.scalar(text("SHOW synchronous_commit"))
    with session_scope() as session:
        after = session.scalar(text("SHOW synchronous_commit"))
    assert (during, after) == ("off", "on")


@pytest.mark.parametrize(
    ("phones", "call_to", "text_to"),
    [
        (
            {"mobile_phone": "+447700900101", "landline_phone": "+441632960101"},
            "+447700900101",
            "+447700900101",
        ),
        ({"mobile_phone": None, "landline_phone": "+441632960102"}, "+441632960102", None),
        (
            {
                "mobile_phone": "+447700900103",
                "landline_phone": "+441632960103",
                "landline_only": True,
            },
            "+441632960103",
            None,
        ),
        (
            {"mobile_phone": "+447700900104", "landline_phone": None, "landline_only": True},
            None,
            None,
        ),
    ],
    ids=["both-phones", "landline-only-number", "landline-only-flag", "flag-without-landline"],
)
def test_calls_go_mobile_first_and_a_landline_only_patient_is_called_on_the_landline_only(
    phones: dict[str, object], call_to: str | None, text_to: str | None
) -> None:
    patient = Patient(**phones)

    assert dispatch.destination_for(patient, Channel.CALL) == call_to
    assert dispatch.destination_for(patient, Channel.SMS) == text_to
    assert dispatch.destination_for(patient, Channel.LETTER) is None


def test_a_text_due_when_the_patient_asks_for_landline_only_is_skipped_at_the_claim(
    database: Engine, config: EngineConfig
) -> None:
    with frozen_at(WEDNESDAY_10AM):
        referral_id = due_referral(Priority.ROUTINE, 1, channel=Channel.SMS)
        with session_scope() as session:
            patient = session.get_one(Referral, referral_id).patient
            patient.landline_phone = "+441632960105"
            patient.landline_only = True  # set by a supervisor after the text was planned
        result = dispatch.run_dispatch(config)

    assert result.queued == []
    with session_scope(read_only=True) as session:
        referral = session.get_one(Referral, referral_id)
        assert session.scalars(select(ContactAttempt)).all() == []
        assert referral.next_channel is Channel.CALL  # the next call, on a later day
        assert referral.next_action_at is not None
        assert referral.next_action_at.date() > WEDNESDAY_10AM.date()
