"""The handler state machine: every transition, its recorded spells, and who takes the next call."""

from __future__ import annotations

import itertools
from datetime import timedelta

import pytest
from sqlalchemy import Engine

from rmc_outreach import handlers
from rmc_outreach.clock import frozen_at
from rmc_outreach.db import session_scope
from rmc_outreach.handlers import (
    ALLOWED_TRANSITIONS,
    HandlerNotFound,
    InvalidEndpoint,
    InvalidHandlerTransition,
    change_state,
    create_handler,
    longest_idle_available,
    normalise_endpoint,
    time_in_state,
)
from rmc_outreach.models import Handler, HandlerState, User
from tests.engine.support import WEDNESDAY_10AM

S = HandlerState
ALLOWED = {
    (S.OFFLINE, S.AVAILABLE),
    (S.AVAILABLE, S.RINGING),
    (S.RINGING, S.ON_CALL),
    (S.RINGING, S.AVAILABLE),
    (S.ON_CALL, S.WRAP_UP),
    (S.WRAP_UP, S.AVAILABLE),
    (S.AVAILABLE, S.AWAY),
    (S.AWAY, S.AVAILABLE),
    (S.AVAILABLE, S.OFFLINE),
    (S.RINGING, S.OFFLINE),
    (S.WRAP_UP, S.OFFLINE),
    (S.AWAY, S.OFFLINE),
}
# The shortest way from offline to each state, through allowed transitions.
PATH_TO = {
    S.OFFLINE: [],
    S.AVAILABLE: [S.AVAILABLE],
    S.AWAY: [S.AVAILABLE, S.AWAY],
    S.RINGING: [S.AVAILABLE, S.RINGING],
    S.ON_CALL: [S.AVAILABLE, S.RINGING, S.ON_CALL],
    S.WRAP_UP: [S.AVAILABLE, S.RINGING, S.ON_CALL, S.WRAP_UP],
}
_handler_numbers = itertools.count(1)


def new_handler(endpoint: str | None = None) -> int:
    """A new offline handler (with a user of their own) created at 10:00; returns its id."""
    number = next(_handler_numbers)
    with frozen_at(WEDNESDAY_10AM), session_scope() as session:
        user = User(
            username=f"handler{number}", display_name="H", password_hash="x", role="handler"
        )
        session.add(user)
        session.flush()
        return create_handler(
            session, user.id, f"Handler {number}", endpoint or f"client:handler_{number}"
        ).id


def move(handler_id: int, *states: HandlerState, start: timedelta = timedelta(0)) -> None:
    """Change state through ``states``, one minute apart from 10:00 + ``start`` + 1 min."""
    for index, state in enumerate(states, start=1):
        with (
            frozen_at(WEDNESDAY_10AM + start + timedelta(minutes=index)),
            session_scope() as session,
        ):
            change_state(session, handler_id, state)


def test_the_allowed_transitions_are_exactly_those_of_the_issue() -> None:
    allowed = {(old, new) for old, targets in ALLOWED_TRANSITIONS.items() for new in targets}
    assert allowed == ALLOWED


@pytest.mark.parametrize(("old", "new"), sorted(ALLOWED))
def test_every_allowed_transition_changes_the_state_and_opens_a_new_spell(
    database: Engine, old: HandlerState, new: HandlerState
) -> None:
    handler_id = new_handler()
    move(handler_id, *PATH_TO[old])
    moment = WEDNESDAY_10AM + timedelta(hours=1)
    with frozen_at(moment), session_scope() as session:
        spell = change_state(session, handler_id, new)
        assert (spell.state, spell.started_at, spell.ended_at) == (new, moment, None)
    with session_scope() as session:
        handler = session.get_one(Handler, handler_id)
        assert (handler.state, handler.state_changed_at) == (new, moment)
        history = handlers.spells(session, handler_id)
        assert history[-2].state is old
        assert history[-2].ended_at == moment


@pytest.mark.parametrize(
    ("old", "new"),
    sorted((old, new) for old in S for new in S if (old, new) not in ALLOWED),
)
def test_every_other_transition_is_refused_naming_the_handler_and_both_states(
    database: Engine, old: HandlerState, new: HandlerState
) -> None:
    handler_id = new_handler()
    move(handler_id, *PATH_TO[old])
    with pytest.raises(InvalidHandlerTransition) as raised, session_scope() as session:
        change_state(session, handler_id, new)
    message = str(raised.value)
    assert f"handler {handler_id}" in message
    assert f"from {old.value} to {new.value}" in message
    assert (raised.value.from_state, raised.value.to_state) == (old, new)
    with session_scope() as session:
        assert session.get_one(Handler, handler_id).state is old
        assert len(handlers.spells(session, handler_id)) == len(PATH_TO[old]) + 1


def test_a_handler_on_a_call_is_told_they_cannot_sign_off_mid_call(database: Engine) -> None:
    handler_id = new_handler()
    move(handler_id, S.AVAILABLE, S.RINGING, S.ON_CALL)
    refused = pytest.raises(InvalidHandlerTransition, match="cannot sign off mid-call")
    with refused, session_scope() as session:
        change_state(session, handler_id, S.OFFLINE)


def test_changing_an_unknown_handler_says_it_does_not_exist(database: Engine) -> None:
    refused = pytest.raises(HandlerNotFound, match="handler 999999 does not exist")
    with refused, session_scope() as session:
        change_state(session, 999_999, S.AVAILABLE)


def test_every_state_change_is_recorded_as_a_spell_with_its_timestamps(database: Engine) -> None:
    handler_id = new_handler()
    journey = [S.AVAILABLE, S.RINGING, S.AVAILABLE, S.RINGING, S.ON_CALL, S.WRAP_UP, S.AVAILABLE]
    journey += [S.AWAY, S.AVAILABLE, S.OFFLINE]
    move(handler_id, *journey)
    with session_scope() as session:
        history = handlers.spells(session, handler_id)
    assert [spell.state for spell in history] == [S.OFFLINE, *journey]
    starts = [WEDNESDAY_10AM + timedelta(minutes=minute) for minute in range(len(journey) + 1)]
    assert [spell.started_at for spell in history] == starts
    assert [spell.ended_at for spell in history] == [*starts[1:], None]


def test_a_change_dated_before_the_current_spell_starts_when_it_began(database: Engine) -> None:
    handler_id = new_handler()
    move(handler_id, S.AVAILABLE)  # at 10:01
    with session_scope() as session:
        spell = change_state(session, handler_id, S.AWAY, at=WEDNESDAY_10AM)
    assert spell.started_at == WEDNESDAY_10AM + timedelta(minutes=1)


def test_the_longest_idle_available_handler_is_offered_first(database: Engine) -> None:
    first, second, third, away = (new_handler() for _ in range(4))
    move(second, S.AVAILABLE)  # available at 10:01
    move(first, S.AVAILABLE, start=timedelta(minutes=1))  # 10:02
    move(third, S.AVAILABLE, start=timedelta(minutes=2))  # 10:03
    move(away, S.AVAILABLE, S.AWAY)
    with session_scope() as session:
        chosen = longest_idle_available(session)
        assert chosen is not None and chosen.id == second
    # After a call, the handler goes to the back of the line.
    move(second, S.RINGING, S.ON_CALL, S.WRAP_UP, S.AVAILABLE, start=timedelta(minutes=5))
    with session_scope() as session:
        chosen = longest_idle_available(session)
        assert chosen is not None and chosen.id == first


def test_handlers_already_tried_are_skipped_and_none_is_left_when_all_were(
    database: Engine,
) -> None:
    first, second = new_handler(), new_handler()
    move(first, S.AVAILABLE)
    move(second, S.AVAILABLE, start=timedelta(minutes=1))
    with session_scope() as session:
        chosen = longest_idle_available(session, exclude={first})
        assert chosen is not None and chosen.id == second
        assert longest_idle_available(session, exclude=[first, second]) is None


def test_a_handler_who_does_not_answer_goes_back_to_available_and_the_next_is_tried(
    database: Engine,
) -> None:
    first, second = new_handler(), new_handler()
    move(first, S.AVAILABLE)
    move(second, S.AVAILABLE, start=timedelta(minutes=1))
    move(first, S.RINGING, S.AVAILABLE, start=timedelta(minutes=5))
    with session_scope() as session:
        chosen = longest_idle_available(session, exclude={first})
        assert chosen is not None and chosen.id == second


def test_nobody_is_offered_when_no_handler_is_available(database: Engine) -> None:
    handler_id = new_handler()
    move(handler_id, S.AVAILABLE, S.AWAY)
    with session_scope() as session:
        assert longest_idle_available(session) is None


def test_time_in_state_counts_from_the_last_change(database: Engine) -> None:
    handler_id = new_handler()
    move(handler_id, S.AVAILABLE)
    with session_scope() as session:
        handler = session.get_one(Handler, handler_id)
        at = WEDNESDAY_10AM + timedelta(minutes=4)
        assert time_in_state(handler, at=at) == timedelta(minutes=3)
        with frozen_at(at + timedelta(seconds=30)):
            assert time_in_state(handler) == timedelta(minutes=3, seconds=30)


def test_a_new_handler_is_offline_with_one_open_spell(database: Engine) -> None:
    handler_id = new_handler("07700 900123")
    with session_scope() as session:
        handler = session.get_one(Handler, handler_id)
        assert handler.state is S.OFFLINE
        assert handler.endpoint == "+447700900123"
        [spell] = handlers.spells(session, handler_id)
        assert (spell.state, spell.started_at, spell.ended_at) == (S.OFFLINE, WEDNESDAY_10AM, None)


@pytest.mark.parametrize(
    ("endpoint", "expected"),
    [
        ("+447700900001", "+447700900001"),
        ("020 7946 0123", "+442079460123"),
        ("sip:desk12@rmc.example.nhs.uk", "sip:desk12@rmc.example.nhs.uk"),
        (
            "sips:desk12@pbx.example.org:5061;transport=tls",
            "sips:desk12@pbx.example.org:5061;transport=tls",
        ),
        ("client:handler_12", "client:handler_12"),
    ],
)
def test_endpoints_may_be_a_uk_number_a_sip_uri_or_a_client_identity(
    endpoint: str, expected: str
) -> None:
    assert normalise_endpoint(endpoint) == expected


@pytest.mark.parametrize(
    "endpoint",
    [
        "",
        "999",
        "+12025550100",
        "09098 790000",
        "sip:no-host",
        "sip:a b@host",
        "client:",
        "client:has space",
        "client:" + "x" * 122,
        "tel:07700900001",
    ],
)
def test_other_endpoints_are_refused_with_a_reason(endpoint: str) -> None:
    with pytest.raises(InvalidEndpoint):
        normalise_endpoint(endpoint)


def test_fictional_numbers_are_refused_when_not_allowed() -> None:
    with pytest.raises(InvalidEndpoint, match="fictional"):
        normalise_endpoint("07700 900001", allow_fictional=False)
