"""The floor right now: calls by where they stand, patients waiting for a handler, handlers.

Every read is bounded by what is live, never by history:

- calls: the attempts not yet final, through ``ix_contact_attempt_state_claimed_at`` (the states
  are listed, so the index is used for an IN over them), each looked up in ``provider_event`` and
  ``handoff`` by their ``attempt_id`` indexes;
- handoffs not yet ended, through today's range of ``ix_handoff_queued_at``;
- handlers: the handler table itself, one row per member of staff.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import and_, case, exists, func, or_, select
from sqlalchemy.orm import Session

from rmc_outreach.attempts import IN_FLIGHT_STATES
from rmc_outreach.events import MACHINE_ANSWERS, EventKind
from rmc_outreach.models import (
    AttemptState,
    Channel,
    ContactAttempt,
    Handler,
    HandlerState,
    Handoff,
    ProviderEvent,
)

HANDLER_STATE_LABELS: Mapping[HandlerState, str] = {
    HandlerState.AVAILABLE: "Available",
    HandlerState.RINGING: "Being connected",
    HandlerState.ON_CALL: "On a call",
    HandlerState.WRAP_UP: "Wrapping up",
    HandlerState.AWAY: "Away",
    HandlerState.OFFLINE: "Signed out",
}
# The order the page lists handlers in: who can take a patient first.
HANDLER_STATE_ORDER = tuple(HANDLER_STATE_LABELS)
RINGING_STATES = (AttemptState.CLAIMED, AttemptState.SENT)


@dataclass(frozen=True)
class CallsNow:
    """Calls under way, each in exactly one place.

    - ``ringing``: claimed or sent (being dialled or ringing) and not answered yet;
    - ``in_ivr``: answered (the answer webhook is stored, or ``answered_at`` is set), not final,
      no handoff, and not answered by a machine: a person hearing the options;
    - ``at_answering_machine``: answered by a machine, not final (the voicemail is being left);
    - ``checking``: uncertain and not answered: the outcome is being confirmed with the carrier;
    - ``waiting_for_handler``: handoffs queued, not connected, not ended (``longest_wait_seconds``:
      the longest of those waits, None when nobody waits);
    - ``on_handler``: handoffs connected and not ended;
    - ``in_flight``: every call holding a concurrency slot (``dispatch.calls_in_flight``: queued
      by dispatch or under way), the numerator of the pacing ratio.
    """

    ringing: int
    in_ivr: int
    at_answering_machine: int
    checking: int
    waiting_for_handler: int
    longest_wait_seconds: int | None
    on_handler: int
    in_flight: int


@dataclass(frozen=True)
class CallsUnanswered:
    """The attempt side of ``CallsNow``: calls not final and not handed off."""

    ringing: int
    in_ivr: int
    at_answering_machine: int
    checking: int


def calls_unanswered(session: Session) -> CallsUnanswered:
    """Calls under way and not handed off, by where they stand (see ``CallsNow``)."""
    answer_stored = exists().where(
        ProviderEvent.attempt_id == ContactAttempt.id,
        ProviderEvent.kind == EventKind.CALL_ANSWER,
    )
    answered = case(
        (or_(ContactAttempt.answered_at.is_not(None), answer_stored), 1),
        else_=0,
    )
    machine = case((ContactAttempt.answered_by.in_(sorted(MACHINE_ANSWERS)), 1), else_=0)
    handed_off = exists().where(Handoff.attempt_id == ContactAttempt.id)
    rows = session.execute(
        select(ContactAttempt.state, answered, machine, func.count())
        .where(
            ContactAttempt.state.in_(IN_FLIGHT_STATES),
            ContactAttempt.channel == Channel.CALL,
            ~handed_off,
        )
        .group_by(ContactAttempt.state, answered, machine)
    ).all()
    found: Counter[str] = Counter()
    for state, was_answered, by_machine, count in rows:
        if was_answered:
            found["at_answering_machine" if by_machine else "in_ivr"] += count
        elif state in RINGING_STATES:
            found["ringing"] += count
        else:
            found["checking"] += count
    return CallsUnanswered(
        ringing=found["ringing"],
        in_ivr=found["in_ivr"],
        at_answering_machine=found["at_answering_machine"],
        checking=found["checking"],
    )


@dataclass(frozen=True)
class HandoffsNow:
    """Patients waiting for a handler, and patients talking to one."""

    waiting: int
    oldest_queued_at: datetime | None
    connected: int


def handoffs_now(session: Session, *, waiting_since: datetime, day_start: datetime) -> HandoffsNow:
    """Handoffs not ended: waiting (not connected, queued at or after ``waiting_since``) and
    connected (queued at or after ``day_start``), in one read of the day's range of
    ``ix_handoff_queued_at``.

    ``waiting_since`` is the moment minus the hold wait and pacing's grace: a patient is told
    nobody is free once the hold wait is over, so an older handoff still open is a lost event,
    not a waiting patient (the same rule as ``pacing``). Calls are placed inside the calling
    window, so a call on a handler now was queued today.
    """
    waiting = and_(
        Handoff.connected_at.is_(None),
        Handoff.abandoned.is_(False),
        Handoff.queued_at >= waiting_since,
    )
    row = session.execute(
        select(
            func.coalesce(func.sum(case((waiting, 1), else_=0)), 0),
            func.min(case((waiting, Handoff.queued_at), else_=None)),
            func.coalesce(func.sum(case((Handoff.connected_at.is_not(None), 1), else_=0)), 0),
        ).where(Handoff.queued_at >= min(day_start, waiting_since), Handoff.ended_at.is_(None))
    ).one()
    return HandoffsNow(waiting=int(row[0]), oldest_queued_at=row[1], connected=int(row[2]))


@dataclass(frozen=True)
class HandlerNow:
    """One signed-in handler: display name only, the state and how long they have been in it."""

    display_name: str
    state: HandlerState
    state_label: str
    seconds_in_state: int


@dataclass(frozen=True)
class HandlersNow:
    """Handlers by state (every state, zero where none) and the signed-in ones by name."""

    by_state: Mapping[HandlerState, int]
    signed_in: tuple[HandlerNow, ...]

    @property
    def available(self) -> int:
        """Handlers free to take a patient now."""
        return self.by_state[HandlerState.AVAILABLE]


def handlers_now(session: Session, moment: datetime) -> HandlersNow:
    """Every handler's state; the signed-in ones (not offline) listed in ``HANDLER_STATE_ORDER``,
    longest in their state first."""
    rows = session.execute(
        select(Handler.display_name, Handler.state, Handler.state_changed_at)
    ).all()
    by_state = Counter(state for _name, state, _since in rows)
    signed_in = [
        HandlerNow(
            display_name=name,
            state=state,
            state_label=HANDLER_STATE_LABELS[state],
            seconds_in_state=max(0, int((moment - since).total_seconds())),
        )
        for name, state, since in rows
        if state is not HandlerState.OFFLINE
    ]
    signed_in.sort(
        key=lambda handler: (
            HANDLER_STATE_ORDER.index(handler.state),
            -handler.seconds_in_state,
            handler.display_name,
        )
    )
    return HandlersNow(
        by_state={state: by_state[state] for state in HANDLER_STATE_ORDER},
        signed_in=tuple(signed_in),
    )


def seconds_since(moment: datetime, earlier: datetime | None) -> int | None:
    """Whole seconds from ``earlier`` to ``moment`` (never negative); None without ``earlier``."""
    if earlier is None:
        return None
    return max(0, int((moment - earlier).total_seconds()))
