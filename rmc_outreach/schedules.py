"""Time-driven decisions for beat: when to cut the print batch, when the demo clock may jump.

Pure reads; the tasks in ``workers.tasks`` act on the answers.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import Session

from rmc_outreach.engine_config import EngineConfig
from rmc_outreach.models import AttemptState, Channel, ContactAttempt


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
    """Where the demo's simulated clock may jump to: the next opening of the calling window,
    when the window is closed and no contact is in flight. None: let time run."""
    if config.window.is_open(moment):
        return None
    if contacts_under_way(session):
        return None
    return config.window.next_open(moment)
