"""Time-driven decisions for beat: when to cut the print batch, when the demo clock may jump.

Pure reads; the tasks in ``workers.tasks`` act on the answers.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from sqlalchemy import ColumnElement, and_, func, or_, select
from sqlalchemy.orm import Session

from rmc_outreach.engine_config import EngineConfig
from rmc_outreach.models import (
    OPEN_REFERRAL_STATUSES,
    AttemptState,
    Channel,
    ContactAttempt,
    Letter,
    LetterStatus,
    PrintBatch,
    Referral,
)


def print_batch_day(config: EngineConfig, moment: datetime) -> date | None:
    """The day whose print batch should be cut now: today, on a working day after the cut
    time (local); otherwise None."""
    local = config.window.local(moment)
    if not config.window.is_working_day(local.date()):
        return None
    if local.time() < config.print_cut_time:
        return None
    return local.date()


def contacts_under_way(session: Session) -> int:
    """Attempts a worker may be sending right now (claimed or uncertain, any channel) and calls
    still live (sent): a simulated clock must not jump over them."""
    return (
        session.scalar(
            select(func.count())
            .select_from(ContactAttempt)
            .where(
                or_(
                    ContactAttempt.state.in_((AttemptState.CLAIMED, AttemptState.UNCERTAIN)),
                    and_(
                        ContactAttempt.channel == Channel.CALL,
                        ContactAttempt.state == AttemptState.SENT,
                    ),
                )
            )
        )
        or 0
    )


def clock_jump_target(session: Session, config: EngineConfig, moment: datetime) -> datetime | None:
    """Where the demo's simulated clock may jump to, or None to let time run.

    Only when nothing is under way (no attempt queued, being sent or on a live call): then to
    the next moment something is due (a referral's next action, inside the calling window, or the
    print-batch cut while letters wait), so quiet hours of a simulated day pass at once. With
    nothing due at all, a closed window still jumps to its next opening.

    An attempt a worker found too close to the window's end is not queued work: it waits,
    pending, for its referral's ``next_action_at`` (a candidate like any other) or, for a text
    the patient asked for after being reached, for the window's next opening.
    """
    if contacts_under_way(session) or _attempts_queued(session, config, moment):
        return None
    candidates: list[datetime] = []
    if _requests_waiting_for_window(session, config, moment):
        candidates.append(config.window.next_open(moment))
    next_due = session.scalar(
        select(func.min(Referral.next_action_at)).where(
            Referral.status.in_(OPEN_REFERRAL_STATUSES), Referral.next_action_at.is_not(None)
        )
    )
    if next_due is not None:
        candidates.append(config.window.next_open(max(next_due, moment)))
    if _letters_waiting(session):
        due_day = print_batch_day(config, moment)
        if due_day is not None and not _batch_cut(session, due_day):
            return None  # today's cut is due: let beat cut it before time moves on
        candidates.append(_next_cut(config, moment))
    if not candidates:
        return None if config.window.is_open(moment) else config.window.next_open(moment)
    target = min(candidates)
    return target if target - moment > MIN_JUMP else None


MIN_JUMP = timedelta(minutes=1)


def _attempts_queued(session: Session, config: EngineConfig, moment: datetime) -> bool:
    """Pending attempts a worker holds or is about to get.

    Queued by dispatch (the referral has no next action) or, inside the window, due for dispatch
    to queue again now. Not those waiting for their referral's ``next_action_at`` (deferred, or
    released by the sweeper) while it is in the future or the window is closed: dispatch takes
    them at the next opening, a candidate like any other. Outside the window not the requested
    texts of referrals already closed either (see ``_requests_waiting_for_window``).
    """
    in_hand: ColumnElement[bool] = Referral.next_action_at.is_(None)
    if config.window.is_open(moment):
        in_hand = or_(in_hand, Referral.next_action_at <= moment)
    else:
        in_hand = and_(
            in_hand,
            or_(
                Referral.status.in_(OPEN_REFERRAL_STATUSES),
                ContactAttempt.channel == Channel.LETTER,
            ),
        )
    queued = (
        select(ContactAttempt.id)
        .join(Referral, Referral.id == ContactAttempt.referral_id)
        .where(ContactAttempt.state == AttemptState.PENDING, in_hand)
    )
    return session.scalar(queued.limit(1)) is not None


def _requests_waiting_for_window(session: Session, config: EngineConfig, moment: datetime) -> bool:
    """Outside the window: a call or text of a closed referral is still pending (the patient
    asked for the how-to-book text as the window closed; the worker deferred it, and with no
    journey left to hold the time, the sweeper sends it again once the window opens)."""
    if config.window.is_open(moment):
        return False
    waiting = (
        select(ContactAttempt.id)
        .join(Referral, Referral.id == ContactAttempt.referral_id)
        .where(
            ContactAttempt.state == AttemptState.PENDING,
            ContactAttempt.channel != Channel.LETTER,
            Referral.status.not_in(OPEN_REFERRAL_STATUSES),
        )
    )
    return session.scalar(waiting.limit(1)) is not None


def _letters_waiting(session: Session) -> bool:
    waiting = select(Letter.id).where(Letter.status == LetterStatus.PENDING)
    return session.scalar(waiting.limit(1)) is not None


def _batch_cut(session: Session, day: date) -> bool:
    return session.scalar(select(PrintBatch.id).where(PrintBatch.day == day)) is not None


def _next_cut(config: EngineConfig, moment: datetime) -> datetime:
    """The next print-batch cut time (local cut time on a working day) after ``moment``."""
    day = config.window.local(moment).date()
    if not config.window.is_working_day(day):
        day = config.window.next_working_day(day)
    cut = datetime.combine(day, config.print_cut_time, tzinfo=config.window.zone)
    if cut <= moment:
        day = config.window.next_working_day(day)
        cut = datetime.combine(day, config.print_cut_time, tzinfo=config.window.zone)
    return cut.astimezone(UTC)
