"""The handler console: one handler's state, the patient they are connected to, the call they
are wrapping up, and the work list, read at one moment.

Reads are keyed by the handler: the handler row by id; the handoff connected to them or in
wrap-up through ``handoff.handler_id`` (newest first, LIMIT 1 each); the screen-pop through the
referral's own indexes (``screen_pop``); the work list through ``ix_callback_request_open``
(``work``). Every look at a patient's screen-pop is audited (``record_screen_pop_view``), with
ids only: no NHS number, phone or name in the audit trail.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from rmc_outreach.audit import record_audit_event
from rmc_outreach.console_view.screen_pop import ReferralCard, referral_card
from rmc_outreach.console_view.work import WorkItem, work_list
from rmc_outreach.handlers import (
    HandlerNotFound,
    can_change,
    change_state,
    lock_handler,
    time_in_state,
)
from rmc_outreach.handoff_outcomes import OutcomeConflict, handler_actor
from rmc_outreach.live_view.floor import HANDLER_STATE_LABELS
from rmc_outreach.models import AuditEvent, Handler, HandlerState, Handoff
from rmc_outreach.sign_in import user_actor

SCREEN_POP_ACTION = "console.screen_pop_view"
CONSOLE_LOOK_ACTION = "console.look"
# What a handler may choose for themselves on the console; the ACD does the rest.
SELF_SERVICE_STATES = (HandlerState.AVAILABLE, HandlerState.AWAY, HandlerState.OFFLINE)


@dataclass(frozen=True)
class HandlerNow:
    """The handler, their state and how long they have been in it."""

    id: int
    display_name: str
    state: HandlerState
    seconds_in_state: int

    @property
    def state_label(self) -> str:
        """The state in words."""
        return HANDLER_STATE_LABELS[self.state]

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready."""
        return {
            "id": self.id,
            "display_name": self.display_name,
            "state": self.state.value,
            "state_label": self.state_label,
            "seconds_in_state": self.seconds_in_state,
        }


@dataclass(frozen=True)
class ScreenPop:
    """A handoff in front of the handler: the referral's card and the patient's name (both None
    for a caller we could not match to a referral)."""

    handoff_id: int
    queued_at: datetime
    connected_at: datetime | None
    ended_at: datetime | None
    referral: ReferralCard | None
    patient_name: str | None
    seconds_connected: int | None

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready: masked identifiers; the name is for the handler's console only."""
        return {
            "handoff_id": self.handoff_id,
            "queued_at": self.queued_at.isoformat(),
            "connected_at": None if self.connected_at is None else self.connected_at.isoformat(),
            "ended_at": None if self.ended_at is None else self.ended_at.isoformat(),
            "seconds_connected": self.seconds_connected,
            "referral": None if self.referral is None else self.referral.as_dict(),
            "patient_name": self.patient_name,
        }


@dataclass(frozen=True)
class ConsoleSnapshot:
    """Everything the console shows, read at one moment."""

    generated_at: datetime
    handler: HandlerNow
    connected: ScreenPop | None
    wrap_up: ScreenPop | None
    work: tuple[WorkItem, ...]

    @property
    def allowed_states(self) -> tuple[HandlerState, ...]:
        """The states the handler may choose now (the state machine decides the rest; a call
        waiting for its outcome is closed by recording it, which makes the handler available)."""
        return tuple(
            state
            for state in SELF_SERVICE_STATES
            if can_change(self.handler.state, state)
            and not (state is HandlerState.AVAILABLE and self.wrap_up is not None)
        )

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready, as /api/console/<handler_id> returns it."""
        return {
            "generated_at": self.generated_at.isoformat(),
            "handler": self.handler.as_dict(),
            "allowed_states": [state.value for state in self.allowed_states],
            "connected": None if self.connected is None else self.connected.as_dict(),
            "wrap_up": None if self.wrap_up is None else self.wrap_up.as_dict(),
            "work": [item.as_dict() for item in self.work],
        }


def _screen_pop(session: Session, handoff: Handoff, at: datetime) -> ScreenPop:
    card, name = (None, None)
    if handoff.referral_id is not None:
        card, name = referral_card(session, handoff.referral_id)
    seconds = None
    if handoff.connected_at is not None:
        until = handoff.ended_at or at
        seconds = max(0, int((until - handoff.connected_at).total_seconds()))
    return ScreenPop(
        handoff_id=handoff.id,
        queued_at=handoff.queued_at,
        connected_at=handoff.connected_at,
        ended_at=handoff.ended_at,
        referral=card,
        patient_name=name,
        seconds_connected=seconds,
    )


def connected_handoff(session: Session, handler_id: int) -> Handoff | None:
    """The handoff bridged to the handler now (connected, not ended), newest first."""
    return session.scalars(
        select(Handoff)
        .where(
            Handoff.handler_id == handler_id,
            Handoff.connected_at.is_not(None),
            Handoff.ended_at.is_(None),
        )
        .order_by(Handoff.connected_at.desc(), Handoff.id.desc())
        .limit(1)
    ).first()


def wrap_up_handoff(session: Session, handler_id: int) -> Handoff | None:
    """The ended handoff of the handler still waiting for its outcome, newest first."""
    return session.scalars(
        select(Handoff)
        .where(
            Handoff.handler_id == handler_id,
            Handoff.connected_at.is_not(None),
            Handoff.ended_at.is_not(None),
            Handoff.wrap_up_ended_at.is_(None),
            Handoff.outcome.is_(None),
        )
        .order_by(Handoff.ended_at.desc(), Handoff.id.desc())
        .limit(1)
    ).first()


def console_snapshot(session: Session, handler_id: int, at: datetime) -> ConsoleSnapshot:
    """The console of one handler at ``at``. Raises ``HandlerNotFound``."""
    handler = session.get(Handler, handler_id)
    if handler is None:
        raise HandlerNotFound(handler_id)
    connected = connected_handoff(session, handler_id)
    wrapping = wrap_up_handoff(session, handler_id)
    return ConsoleSnapshot(
        generated_at=at,
        handler=HandlerNow(
            id=handler.id,
            display_name=handler.display_name,
            state=handler.state,
            seconds_in_state=int(time_in_state(handler, at=at).total_seconds()),
        ),
        connected=None if connected is None else _screen_pop(session, connected, at),
        wrap_up=None if wrapping is None else _screen_pop(session, wrapping, at),
        work=work_list(session, handler_id, at),
    )


def choose_state(session: Session, handler_id: int, state: HandlerState) -> None:
    """The handler's own choice of state (``SELF_SERVICE_STATES``). Raises
    ``InvalidHandlerTransition`` when the state machine refuses it, and ``OutcomeConflict`` for
    "available" while a finished call still waits for its outcome (recording it makes the
    handler available; skipping it would lose what happened on the call)."""
    handler = lock_handler(session, handler_id)
    if state is HandlerState.AVAILABLE and handler.state is HandlerState.WRAP_UP:
        waiting = wrap_up_handoff(session, handler_id)
        if waiting is not None:
            raise OutcomeConflict(
                f"record the outcome of handoff {waiting.id} first: that makes you available"
            )
    change_state(session, handler_id, state)


def handlers_to_pick(session: Session) -> list[Handler]:
    """Every handler, by name: the page where supervisors choose whose console to look at."""
    return list(session.scalars(select(Handler).order_by(Handler.display_name, Handler.id)))


def record_console_look(session: Session, handler_id: int, user_id: int) -> None:
    """Audit a look at a handler's console by someone else (a supervisor or an admin)."""
    record_audit_event(
        session,
        actor_label=user_actor(user_id),
        actor_user_id=user_id,
        action=CONSOLE_LOOK_ACTION,
        outcome="viewed",
        object_type="handler",
        object_id=handler_id,
    )


def record_screen_pop_view(
    session: Session,
    handler_id: int,
    snapshot: ConsoleSnapshot,
    *,
    every_time: bool,
    actor_label: str | None = None,
    actor_user_id: int | None = None,
) -> int:
    """Audit a look at each screen-pop in the snapshot; returns how many were recorded. The
    actor is the handler unless ``actor_label`` names someone else looking at their console.
    A page load is recorded every time (``every_time``); the 2-second JSON poll only the first
    time it shows a handoff to this actor (a poll is not a fresh look, and one row every 2 s
    would bury the trail). Ids only in the event."""
    recorded = 0
    actor = actor_label or handler_actor(handler_id)
    for pop, stage in ((snapshot.connected, "connected"), (snapshot.wrap_up, "wrap_up")):
        if pop is None or pop.referral is None:
            continue
        if not every_time and _already_viewed(session, actor, pop):
            continue
        record_audit_event(
            session,
            actor_label=actor,
            actor_user_id=actor_user_id,
            action=SCREEN_POP_ACTION,
            outcome="viewed",
            object_type="referral",
            object_id=pop.referral.referral_id,
            detail={"handoff_id": pop.handoff_id, "stage": stage},
        )
        recorded += 1
    return recorded


def _already_viewed(session: Session, actor: str, pop: ScreenPop) -> bool:
    # Bounded by ix_audit_event_action_occurred_at: this action since the patient was queued.
    assert pop.referral is not None  # noqa: S101 - checked by the caller
    found = session.scalars(
        select(AuditEvent.id)
        .where(
            AuditEvent.action == SCREEN_POP_ACTION,
            AuditEvent.occurred_at >= pop.queued_at,
            AuditEvent.object_id == str(pop.referral.referral_id),
            AuditEvent.actor_label == actor,
        )
        .limit(1)
    ).first()
    return found is not None
