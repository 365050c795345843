"""A known week of outreach for the statistics tests, with every figure worked out by hand.

The week is Monday 2 to Sunday 8 November 2026 (GMT, so local time is UTC). Referrals:

- R1 routine Cardiology: call Mon 09:00 no answer; text Mon 09:10 delivered; call Tue 14:00
  answered by a person who pressed 1 (125 s: 3 started minutes), reached Tue 14:00:20 by call;
  handed over after 40 s.
- R2 urgent Dermatology: call Mon 10:00 to a machine, voicemail left (30 s: 1 minute); text
  Mon 10:05 replied; reached Mon 10:30 by SMS.
- R3 2WW Cardiology: call Wed 11:00, a person pressed 1 (200 s: 4 minutes), abandoned after
  60 s; call Thu 09:00, a person pressed 1 (61 s: 2 minutes), reached Thu 09:00:10 by call,
  handed over after 20 s.
- R4 routine Dermatology: a letter printed Fri 12:00; not reached.
- R5 routine Cardiology: first called before the week (Fri 30 Oct), called again Mon 12:00, no
  answer: its Monday call counts as work, but R5 is not in the week's cohort.
- R6: an attempt still pending and one cancelled before it went, in the week: neither counts.
- R7: a call the Monday after the week: outside it.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy.orm import Session

from rmc_outreach.metrics import DateRange
from rmc_outreach.models import (
    AttemptOutcome,
    AttemptState,
    Channel,
    ContactAttempt,
    Handoff,
    Priority,
    Referral,
    ReferralStatus,
)
from tests.factories import create_attempt, create_referral

WEEK = DateRange(date(2026, 11, 2), date(2026, 11, 8))
SEGMENTS = {"invitation": 2}


def at(day: int, hour: int, minute: int = 0, second: int = 0, month: int = 11) -> datetime:
    """A moment in November 2026 (UTC, which is London time then)."""
    return datetime(2026, month, day, hour, minute, second, tzinfo=UTC)


def _referral(session: Session, priority: Priority, specialty: str, **values: Any) -> Referral:
    values.setdefault("status", ReferralStatus.IN_OUTREACH)
    return create_referral(session, priority=priority, specialty=specialty, **values)


def _attempt(
    session: Session,
    referral: Referral,
    channel: Channel,
    step: int,
    created: datetime,
    **values: Any,
) -> ContactAttempt:
    """A finished attempt on ``channel``."""
    return create_attempt(
        session,
        referral,
        channel=channel,
        step=step,
        state=AttemptState.FINAL,
        created_at=created,
        **values,
    )


def _call(
    session: Session, referral: Referral, step: int, created: datetime, **values: Any
) -> ContactAttempt:
    return _attempt(session, referral, Channel.CALL, step, created, **values)


def _handoff(
    session: Session,
    referral: Referral,
    attempt_id: object,
    queued: datetime,
    *,
    connected: datetime | None = None,
    ended: datetime | None = None,
    abandoned: bool = False,
) -> None:
    session.add(
        Handoff(
            attempt_id=attempt_id,
            referral_id=referral.id,
            queued_at=queued,
            connected_at=connected,
            ended_at=ended,
            abandoned=abandoned,
        )
    )


def build_week(session: Session) -> None:
    """Write the week described in the module docstring."""
    person = {"answered_by": "human", "keypad_choice": "1", "outcome": AttemptOutcome.HUMAN_HANDOFF}

    r1 = _referral(
        session,
        Priority.ROUTINE,
        "Cardiology",
        status=ReferralStatus.REACHED,
        reached_at=at(3, 14, 0, 20),
        reached_by=Channel.CALL,
    )
    _call(session, r1, 1, at(2, 9), outcome=AttemptOutcome.NO_ANSWER, duration_seconds=0)
    _attempt(
        session,
        r1,
        Channel.SMS,
        2,
        at(2, 9, 10),
        outcome=AttemptOutcome.DELIVERED,
        template="invitation",
    )
    call = _call(session, r1, 3, at(3, 14), duration_seconds=125, **person)
    _handoff(session, r1, call.id, at(3, 14, 0, 30), connected=at(3, 14, 1, 10))

    r2 = _referral(
        session,
        Priority.URGENT,
        "Dermatology",
        status=ReferralStatus.REACHED,
        reached_at=at(2, 10, 30),
        reached_by=Channel.SMS,
    )
    _call(
        session,
        r2,
        1,
        at(2, 10),
        answered_by="machine_end_beep",
        outcome=AttemptOutcome.VOICEMAIL_LEFT,
        duration_seconds=30,
    )
    _attempt(
        session,
        r2,
        Channel.SMS,
        2,
        at(2, 10, 5),
        outcome=AttemptOutcome.REPLIED,
        template="invitation",
    )

    r3 = _referral(
        session,
        Priority.TWO_WEEK_WAIT,
        "Cardiology",
        status=ReferralStatus.BOOKED,
        reached_at=at(5, 9, 0, 10),
        reached_by=Channel.CALL,
    )
    lost = _call(session, r3, 1, at(4, 11), duration_seconds=200, **person)
    _handoff(session, r3, lost.id, at(4, 11, 0, 20), ended=at(4, 11, 1, 20), abandoned=True)
    taken = _call(session, r3, 3, at(5, 9), duration_seconds=61, **person)
    _handoff(session, r3, taken.id, at(5, 9, 0, 15), connected=at(5, 9, 0, 35))

    r4 = _referral(session, Priority.ROUTINE, "Dermatology")
    _attempt(
        session,
        r4,
        Channel.LETTER,
        6,
        at(6, 12),
        outcome=AttemptOutcome.LETTER_PRINTED,
        destination=None,
    )

    r5 = _referral(session, Priority.ROUTINE, "Cardiology")
    _call(session, r5, 1, at(30, 9, month=10), outcome=AttemptOutcome.NO_ANSWER)
    _call(session, r5, 3, at(2, 12), outcome=AttemptOutcome.NO_ANSWER)

    r6 = _referral(session, Priority.ROUTINE, "Cardiology")
    create_attempt(session, r6, step=1, state=AttemptState.PENDING, created_at=at(4, 9))
    _attempt(session, r6, Channel.SMS, 2, at(4, 9, 5), outcome=AttemptOutcome.CANCELED)

    r7 = _referral(session, Priority.ROUTINE, "Cardiology")
    _call(session, r7, 1, at(9, 9), outcome=AttemptOutcome.NO_ANSWER, duration_seconds=45)
    session.flush()
