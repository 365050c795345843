"""Call handlers: creating them, changing their state, and choosing who takes the next patient.

Handler state (``HandlerState``)::

    offline ──> available ──> ringing ──> on_call ──> wrap_up ──> available
                  │  ▲           │
                  │  └───────────┘  (did not answer: back to available)
                  └──> away ──> available

    and any state except on_call ──> offline

A handler on a call cannot sign off mid-call: the call ends (wrap_up) first. Every change goes
through ``change_state``, which locks the handler's row, checks the transition, closes the
current ``HandlerSession`` spell and opens the next, all stamped from ``clock.now()``.
"""

from __future__ import annotations

import re
from collections.abc import Collection
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, select
from sqlalchemy.orm import Session

from rmc_outreach.clock import now
from rmc_outreach.models import Handler, HandlerSession, HandlerState
from rmc_outreach.phones import InvalidPhoneNumber, normalise_phone

ALLOWED_TRANSITIONS: dict[HandlerState, frozenset[HandlerState]] = {
    HandlerState.OFFLINE: frozenset({HandlerState.AVAILABLE}),
    HandlerState.AVAILABLE: frozenset(
        {HandlerState.RINGING, HandlerState.AWAY, HandlerState.OFFLINE}
    ),
    HandlerState.RINGING: frozenset(
        {HandlerState.ON_CALL, HandlerState.AVAILABLE, HandlerState.OFFLINE}
    ),
    HandlerState.ON_CALL: frozenset({HandlerState.WRAP_UP}),
    HandlerState.WRAP_UP: frozenset({HandlerState.AVAILABLE, HandlerState.OFFLINE}),
    HandlerState.AWAY: frozenset({HandlerState.AVAILABLE, HandlerState.OFFLINE}),
}

# sip:user@host[:port][;params], as Twilio's <Sip> noun takes it.
SIP_URI = re.compile(r"^sips?:[^@\s:;]+@[A-Za-z0-9.-]+(:\d{1,5})?(;[^\s]*)?$")
# Twilio Voice SDK identities: letters, digits and underscores, at most 121 characters.
CLIENT_IDENTITY = re.compile(r"^client:[A-Za-z0-9_]{1,121}$")


class HandlerError(Exception):
    """Base class of the handler errors."""


class HandlerNotFound(HandlerError, LookupError):
    """No handler has this id."""

    def __init__(self, handler_id: int) -> None:
        super().__init__(f"handler {handler_id} does not exist")
        self.handler_id = handler_id


class InvalidHandlerTransition(HandlerError):
    """A state change the handler state machine does not allow."""

    def __init__(self, handler_id: int, from_state: HandlerState, to_state: HandlerState) -> None:
        if from_state is HandlerState.ON_CALL and to_state is HandlerState.OFFLINE:
            why = "a handler on a call cannot sign off mid-call; finish the call first"
        elif from_state is to_state:
            why = f"the handler is already {from_state.value}"
        else:
            allowed = ", ".join(sorted(state.value for state in ALLOWED_TRANSITIONS[from_state]))
            why = f"from {from_state.value} a handler may go to: {allowed}"
        super().__init__(
            f"handler {handler_id} cannot change from {from_state.value} to {to_state.value}: {why}"
        )
        self.handler_id = handler_id
        self.from_state = from_state
        self.to_state = to_state


class InvalidEndpoint(HandlerError, ValueError):
    """A handler endpoint we cannot ring; the message says why (and never quotes a number)."""


def can_change(from_state: HandlerState, to_state: HandlerState) -> bool:
    """True when the state machine allows ``from_state`` → ``to_state``."""
    return to_state in ALLOWED_TRANSITIONS[from_state]


def normalise_endpoint(endpoint: str, *, allow_fictional: bool = True) -> str:
    """The endpoint in the form we dial: a UK number in E.164, a ``sip:`` URI, or
    ``client:identity`` (a Twilio Voice SDK client). Raises ``InvalidEndpoint``.

    ``allow_fictional`` accepts Ofcom drama numbers (development, demo, tests); production
    passes False.
    """
    text = endpoint.strip()
    if text.lower().startswith(("sip:", "sips:")):
        if len(text) > 200 or not SIP_URI.match(text):
            raise InvalidEndpoint("a SIP endpoint must look like sip:user@host (at most 200 chars)")
        return text
    if text.lower().startswith("client:"):
        if not CLIENT_IDENTITY.match(text):
            raise InvalidEndpoint(
                "a client endpoint must be client: then 1-121 letters, digits or underscores"
            )
        return text
    try:
        return normalise_phone(text, allow_fictional=allow_fictional).e164
    except InvalidPhoneNumber as error:
        raise InvalidEndpoint(
            f"the endpoint is not a SIP URI, a client identity or a UK phone number: it "
            f"{error.reason}"
        ) from None


def create_handler(
    session: Session,
    user_id: int | None,
    display_name: str,
    endpoint: str,
    *,
    allow_fictional: bool = True,
) -> Handler:
    """A new handler, offline, with its first (offline) spell recorded; flushed, not committed."""
    name = " ".join(display_name.split())
    if not name or len(name) > 100:
        raise HandlerError("a handler's display name must be 1-100 characters")
    moment = now()
    handler = Handler(
        user_id=user_id,
        display_name=name,
        endpoint=normalise_endpoint(endpoint, allow_fictional=allow_fictional),
        state=HandlerState.OFFLINE,
        state_changed_at=moment,
        created_at=moment,
    )
    session.add(handler)
    session.flush()
    session.add(
        HandlerSession(handler_id=handler.id, state=HandlerState.OFFLINE, started_at=moment)
    )
    session.flush()
    return handler


def lock_handler(session: Session, handler_id: int) -> Handler:
    """The handler's row, locked for this transaction (``FOR UPDATE`` on PostgreSQL; SQLite
    writers are serialised by ``BEGIN IMMEDIATE``) and refreshed from the database."""
    handler = session.scalars(
        select(Handler)
        .where(Handler.id == handler_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).first()
    if handler is None:
        raise HandlerNotFound(handler_id)
    return handler


def change_state(
    session: Session, handler_id: int, new_state: HandlerState, *, at: datetime | None = None
) -> HandlerSession:
    """Move a handler to ``new_state``; returns the new spell.

    Raises ``InvalidHandlerTransition`` for a change the state machine does not allow. ``at``
    (default ``clock.now()``) is when it happened, e.g. a provider event's time; a spell never
    starts before the one it follows, so an earlier ``at`` is taken as the current spell's start.
    """
    handler = lock_handler(session, handler_id)
    if not can_change(handler.state, new_state):
        raise InvalidHandlerTransition(handler_id, handler.state, new_state)
    moment = max(at or now(), handler.state_changed_at)
    current = session.scalars(
        select(HandlerSession)
        .where(HandlerSession.handler_id == handler_id, HandlerSession.ended_at.is_(None))
        .order_by(HandlerSession.started_at.desc(), HandlerSession.id.desc())
    ).all()
    for spell in current:  # one, unless an older row was left open
        spell.ended_at = moment
    spell = HandlerSession(handler_id=handler_id, state=new_state, started_at=moment)
    session.add(spell)
    handler.state = new_state
    handler.state_changed_at = moment
    session.flush()
    return spell


def longest_idle_available(session: Session, *, exclude: Collection[int] = ()) -> Handler | None:
    """The available handler who has been available longest (earliest ``state_changed_at``),
    skipping ``exclude`` (handlers already tried for this patient); None when nobody is free.

    The row is locked with ``SKIP LOCKED`` on PostgreSQL, so two patients being connected at
    once are offered different handlers; ``change_state(..., RINGING)`` then claims it.
    """
    query = (
        select(Handler)
        .where(Handler.state == HandlerState.AVAILABLE)
        .order_by(Handler.state_changed_at, Handler.id)
        .limit(1)
        .with_for_update(skip_locked=True)
    )
    if exclude:
        query = query.where(Handler.id.not_in(list(exclude)))
    return session.scalars(query).first()


def time_in_state(handler: Handler, *, at: datetime | None = None) -> timedelta:
    """How long the handler has been in their current state (never negative)."""
    return max((at or now()) - handler.state_changed_at, timedelta(0))


def spells(session: Session, handler_id: int) -> list[HandlerSession]:
    """Every recorded spell of the handler, oldest first."""
    return list(
        session.scalars(
            select(HandlerSession)
            .where(HandlerSession.handler_id == handler_id)
            .order_by(HandlerSession.started_at, HandlerSession.id)
        )
    )


def any_signed_in(session: Session) -> bool:
    """Whether any handler is signed in (in any state but offline): someone a patient who asks
    for the booking team could be handed to."""
    return _any_handler(session, Handler.state != HandlerState.OFFLINE)


def any_available(session: Session) -> bool:
    """Whether any handler is available now (signed in and free for a patient)."""
    return _any_handler(session, Handler.state == HandlerState.AVAILABLE)


def _any_handler(session: Session, condition: ColumnElement[bool]) -> bool:
    return session.scalar(select(Handler.id).where(condition).limit(1)) is not None
