"""The only code that changes a contact attempt's state.

Every change is a conditional ``UPDATE ... WHERE state IN (...)``: it only moves forward, and the
caller learns from the row count whether it won. ``final`` absorbs: a late or duplicate event that
would finish an attempt again is a logged no-op. The state diagram is in ``models.states``::

    pending ──> claimed ──> sent ──> final
       ^           │──────> uncertain ──> sent | final
       └───────────┘  (released by the sweeper only when the provider has no record of it)

Facts reported by the provider (answered_by, keypad choice, durations...) are recorded with
``annotate``: each fact is set once and never overwritten, whatever the attempt's state.

Whenever an attempt becomes final (and, for SMS and letters, as soon as it is sent) the journey
moves on: ``progress.after_attempt_done`` plans the referral's next step in the same transaction.
"""

from __future__ import annotations

import functools
import logging
import secrets
import time
import uuid
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any, cast

from sqlalchemy import CursorResult, Select, bindparam, func, literal, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value
from sqlalchemy.orm.util import identity_key

from rmc_outreach.clock import now
from rmc_outreach.db import UtcDateTime
from rmc_outreach.models import AttemptOutcome, AttemptState, Channel, ContactAttempt, Referral

log = logging.getLogger(__name__)

IN_FLIGHT_STATES = (AttemptState.CLAIMED, AttemptState.SENT, AttemptState.UNCERTAIN)
NOT_FINAL_STATES = (AttemptState.PENDING, *IN_FLIGHT_STATES)

# Facts ``annotate`` may record; each is written once (while still empty) and never changed.
ANNOTATABLE_FACTS = frozenset(
    {
        "answered_by",
        "answered_at",
        "started_at",
        "ended_at",
        "ring_seconds",
        "duration_seconds",
        "provider_status",
        "keypad_choice",
        "voicemail_at",
        "provider_sid",
        "error_reason",
    }
)


def _rowcount(result: Any) -> int:
    return cast(CursorResult[Any], result).rowcount


# The reads every call runs several times are built once (``functools.cache``): only their values
# change, and building a statement and its cache key costs about half as much CPU as running it.


@functools.cache
def _get_query(*, for_update: bool) -> Select[ContactAttempt]:
    query = select(ContactAttempt).where(ContactAttempt.id == bindparam("attempt_id"))
    if for_update:
        query = query.with_for_update()
    return query.execution_options(populate_existing=True)


def get(session: Session, attempt_id: uuid.UUID, *, for_update: bool = False) -> ContactAttempt:
    """Load an attempt, fresh from the database (locked on PostgreSQL when ``for_update``)."""
    query = _get_query(for_update=for_update)
    attempt = session.scalars(query, {"attempt_id": attempt_id}).one_or_none()
    if attempt is None:
        raise LookupError(f"no contact attempt {attempt_id}")
    return attempt


@functools.cache
def _lock_referral_query() -> Select[int]:
    return (
        select(Referral.id)
        .join(ContactAttempt, ContactAttempt.referral_id == Referral.id)
        .where(ContactAttempt.id == bindparam("attempt_id"))
        .with_for_update(of=Referral)
    )


def lock_referral_of(session: Session, attempt_id: uuid.UUID) -> int | None:
    """Lock the attempt's referral (PostgreSQL; SQLite serialises writers anyway) and return its
    id. Every transaction that changes attempts takes this lock *first*, so two transactions
    never lock a referral and its attempts in opposite orders (no deadlocks)."""
    referral_id: int | None = session.scalar(_lock_referral_query(), {"attempt_id": attempt_id})
    return referral_id


@functools.cache
def _locked_referral_query() -> Select[Referral]:
    return (
        select(Referral)
        .join(ContactAttempt, ContactAttempt.referral_id == Referral.id)
        .where(ContactAttempt.id == bindparam("attempt_id"))
        .with_for_update(of=Referral)
        .execution_options(populate_existing=True)
    )


def lock_referral(session: Session, attempt_id: uuid.UUID) -> Referral | None:
    """``lock_referral_of`` for a caller that needs the referral itself: the same lock, and the
    referral loaded fresh under it, in one statement."""
    referral: Referral | None = session.scalars(
        _locked_referral_query(), {"attempt_id": attempt_id}
    ).one_or_none()
    return referral


def create(
    session: Session,
    *,
    referral_id: int,
    step: int,
    channel: Channel,
    destination: str | None = None,
    template: str | None = None,
) -> uuid.UUID | None:
    """Add a pending attempt with an id made here, before anything is queued.

    Returns None (and writes nothing) when the referral already has an attempt for this step and
    channel: the unique constraint is the last defence against contacting a patient twice.
    """
    attempt = build(
        referral_id=referral_id,
        step=step,
        channel=channel,
        destination=destination,
        template=template,
    )
    try:
        with session.begin_nested():
            session.add(attempt)
    except IntegrityError:
        log.warning("referral %s already has a %s attempt for step %s", referral_id, channel, step)
        return None
    return attempt.id


def build(
    *,
    referral_id: int,
    step: int,
    channel: Channel,
    destination: str | None = None,
    template: str | None = None,
) -> ContactAttempt:
    """A new pending attempt (not yet added to a session), its id made here before queueing.

    For callers that add many at once under the referral's lock and have checked the step is
    free; everyone else uses ``create``.
    """
    return ContactAttempt(
        id=time_ordered_id(),
        referral_id=referral_id,
        step=step,
        channel=channel,
        state=AttemptState.PENDING,
        destination=destination,
        template=template,
        created_at=now(),
    )


def time_ordered_id() -> uuid.UUID:
    """A new attempt id: a version 7 UUID (RFC 9562), milliseconds since the epoch then 74
    random bits. New attempts land at the end of the primary-key index, not on a random page
    of it, so adding one costs the same however many the table holds. (Real time, not
    ``clock.now()``: this orders the index, it is no business time.)"""
    millis = time.time_ns() // 1_000_000
    value = (
        (millis & (1 << 48) - 1) << 80
        | 0x7 << 76  # version 7
        | secrets.randbits(12) << 64
        | 0b10 << 62  # RFC 9562 variant
        | secrets.randbits(62)
    )
    return uuid.UUID(int=value)


def claim(session: Session, attempt_id: uuid.UUID) -> bool:
    """pending -> claimed. True only for the one worker that won the attempt."""
    result = session.execute(
        update(ContactAttempt)
        .where(ContactAttempt.id == attempt_id, ContactAttempt.state == AttemptState.PENDING)
        .values(state=AttemptState.CLAIMED, claimed_at=now())
    )
    won = _rowcount(result) == 1
    if not won:
        log.info("attempt %s was not pending: claim lost", attempt_id)
    return won


def release(session: Session, attempt_id: uuid.UUID) -> bool:
    """claimed/uncertain -> pending, only when no provider id was ever recorded.

    The sweeper releases an attempt only after the provider confirmed it holds no call for it.
    """
    result = session.execute(
        update(ContactAttempt)
        .where(
            ContactAttempt.id == attempt_id,
            ContactAttempt.state.in_((AttemptState.CLAIMED, AttemptState.UNCERTAIN)),
            ContactAttempt.provider_sid.is_(None),
        )
        .values(state=AttemptState.PENDING, claimed_at=None)
    )
    released = _rowcount(result) == 1
    if released:
        log.info("attempt %s released back to pending", attempt_id)
    return released


def mark_sent(
    session: Session,
    attempt_id: uuid.UUID,
    provider_sid: str | None,
    *,
    started_at: datetime | None = None,
) -> bool:
    """claimed/uncertain -> sent, recording the provider's id.

    When the attempt already moved on (a status callback raced ahead and finished it) the state is
    left alone and only the provider id is adopted, if none was recorded.
    """
    values: dict[str, Any] = {"state": AttemptState.SENT, "started_at": started_at or now()}
    if provider_sid is not None:
        values["provider_sid"] = provider_sid
    sent = session.execute(
        update(ContactAttempt)
        .where(
            ContactAttempt.id == attempt_id,
            ContactAttempt.state.in_((AttemptState.CLAIMED, AttemptState.UNCERTAIN)),
        )
        .values(**values)
        .returning(
            ContactAttempt.channel,
            ContactAttempt.referral_id,
            ContactAttempt.step,
            ContactAttempt.ended_at,
        )
        .execution_options(synchronize_session=False)
    ).first()
    if sent is not None:
        _forget(session, attempt_id)
        if sent.channel is not Channel.CALL:
            _after_done(session, sent.referral_id, sent.step, sent.ended_at)
        return True
    if provider_sid is not None:
        annotate(session, attempt_id, provider_sid=provider_sid)
    log.info("attempt %s was not claimed or uncertain: sent not recorded", attempt_id)
    return False


def mark_uncertain(session: Session, attempt_id: uuid.UUID, reason: str) -> bool:
    """claimed -> uncertain: the provider may or may not have acted; the sweeper reconciles."""
    result = session.execute(
        update(ContactAttempt)
        .where(ContactAttempt.id == attempt_id, ContactAttempt.state == AttemptState.CLAIMED)
        .values(state=AttemptState.UNCERTAIN, error_reason=reason)
    )
    return _rowcount(result) == 1


def finish(
    session: Session,
    attempt_id: uuid.UUID,
    outcome: AttemptOutcome,
    *,
    error_reason: str | None = None,
    ended_at: datetime | None = None,
) -> bool:
    """Any state but final -> final with ``outcome``; then the journey moves on.

    Returns False, changing nothing, when the attempt was already final (late or duplicate event).
    """
    ended = ended_at or now()
    values: dict[str, Any] = {
        "state": AttemptState.FINAL,
        "outcome": outcome,
        "ended_at": func.coalesce(ContactAttempt.ended_at, literal(ended, UtcDateTime())),
    }
    if error_reason is not None:
        values["error_reason"] = error_reason
    done = session.execute(
        update(ContactAttempt)
        .where(ContactAttempt.id == attempt_id, ContactAttempt.state != AttemptState.FINAL)
        .values(**values)
        .returning(ContactAttempt.referral_id, ContactAttempt.step, ContactAttempt.ended_at)
        .execution_options(synchronize_session=False)
    ).first()
    if done is None:
        log.info("attempt %s already final: %s ignored", attempt_id, outcome)
        return False
    _forget(session, attempt_id)
    _after_done(session, done.referral_id, done.step, done.ended_at)
    return True


def _forget(session: Session, attempt_id: uuid.UUID) -> None:
    """Expire the attempt if this session holds it: its row changed behind the ORM's back."""
    held = session.identity_map.get(identity_key(ContactAttempt, attempt_id))
    if held is not None:
        session.expire(held)


def raise_outcome(
    session: Session, attempt_id: uuid.UUID, current: AttemptOutcome, better: AttemptOutcome
) -> bool:
    """Replace a final attempt's outcome by a stronger one derived from a late fact.

    Only ``events`` calls this, and only upwards along its fixed precedence, so every arrival
    order of a call's callbacks ends on the same outcome. The state stays final.
    """
    result = session.execute(
        update(ContactAttempt)
        .where(
            ContactAttempt.id == attempt_id,
            ContactAttempt.state == AttemptState.FINAL,
            ContactAttempt.outcome == current,
        )
        .values(outcome=better)
    )
    return _rowcount(result) == 1


def annotate(session: Session, attempt_id: uuid.UUID, **facts: Any) -> frozenset[str]:
    """Record provider facts that are still empty; returns the names of the facts newly set.

    A fact already recorded is never overwritten, so replays and late duplicates change nothing.
    One read and (when anything is new) one ``UPDATE``; callers that hold the attempt already
    use ``record_facts``.
    """
    return record_facts(session, get(session, attempt_id), facts)


def record_facts(
    session: Session, attempt: ContactAttempt, facts: Mapping[str, Any]
) -> frozenset[str]:
    """``annotate`` for an attempt loaded in this transaction (under its referral's lock).

    Facts still empty on ``attempt`` are written in one ``UPDATE``; each column is only ever set
    from empty (``COALESCE``), so a writer that got there first keeps its value. The loaded
    attempt is updated in place. Returns the names of the facts newly set.
    """
    unknown = set(facts) - ANNOTATABLE_FACTS
    if unknown:
        raise ValueError(f"not an attempt fact: {sorted(unknown)}")
    new = {
        name: value
        for name, value in facts.items()
        if value is not None and getattr(attempt, name) is None
    }
    if not new:
        return frozenset()
    session.execute(
        update(ContactAttempt)
        .where(ContactAttempt.id == attempt.id)
        .values(
            {
                name: func.coalesce(column, literal(value, column.type))
                for name, value in new.items()
                for column in (getattr(ContactAttempt, name),)
            }
        )
        .execution_options(synchronize_session=False)
    )
    for name, value in new.items():
        set_committed_value(attempt, name, value)
    return frozenset(new)


def cancel_pending(
    session: Session, attempt_ids: Iterable[uuid.UUID], reason: str
) -> list[uuid.UUID]:
    """Finish still-pending attempts as cancelled (nothing was sent); returns those cancelled."""
    cancelled = []
    for attempt_id in attempt_ids:
        result = session.execute(
            update(ContactAttempt)
            .where(ContactAttempt.id == attempt_id, ContactAttempt.state == AttemptState.PENDING)
            .values(
                state=AttemptState.FINAL,
                outcome=AttemptOutcome.CANCELED,
                error_reason=reason,
                ended_at=now(),
            )
        )
        if _rowcount(result) == 1:
            cancelled.append(attempt_id)
    return cancelled


def _after_done(session: Session, referral_id: int, step: int, ended_at: datetime | None) -> None:
    # Imported here: progress uses this module to cancel attempts when a patient is reached.
    from rmc_outreach.progress import after_attempt_done

    after_attempt_done(session, referral_id=referral_id, step=step, ended_at=ended_at)
