"""How soon handlers on a call are likely to be free: talk times and lead times of recent
handoffs (``pacing`` uses them).

The chance that a call which has lasted so long ends within so much more comes from the talk
times of recent bridged calls by the Kaplan-Meier estimate, with the calls still in progress as
observations cut short (censored) at their length so far. Counting only the calls that have
ended would read the talk times short whenever many calls are still going, as at the start of a
shift (only the short calls of the first minutes have ended yet): handlers would look about to
be free when they are not, and pacing would start calls for patients nobody can take.
"""

from __future__ import annotations

import bisect
import itertools
import statistics
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from rmc_outreach.models import ContactAttempt, Handler, HandlerSession, HandlerState, Handoff

# Talk times and lead times are judged from (up to) this many recent handoffs, and only once
# MIN_TIMED_HANDOFFS of them have been timed; the lead time is LEAD_TIME_PRIOR until then.
TIMED_HANDOFFS = 200
MIN_TIMED_HANDOFFS = 10
LEAD_TIME_PRIOR = timedelta(seconds=30)
# A handler whose call ends wraps up before taking the next patient: a patient waiting for
# them is taken the wrap-up later. Judged from (up to) TIMED_HANDOFFS recent wrap-ups, the
# median once MIN_TIMED_HANDOFFS are known, WRAP_UP_PRIOR until then.
WRAP_UP_PRIOR = timedelta(seconds=30)


@dataclass(frozen=True)
class TalkSurvival:
    """The share of calls still going after each length (Kaplan-Meier), from the talk times of
    ended calls and the lengths so far of calls in progress."""

    ended_s: Sequence[float]
    in_progress_s: Sequence[float] = ()
    _times: list[float] = field(init=False, repr=False)
    _still_going: list[float] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        ended = sorted(self.ended_s)
        going = sorted(self.in_progress_s)
        times: list[float] = []
        still_going: list[float] = []
        share = 1.0
        for length, group in itertools.groupby(ended):
            at_risk = (len(ended) - bisect.bisect_left(ended, length)) + (
                len(going) - bisect.bisect_left(going, length)
            )
            share *= 1 - len(list(group)) / at_risk
            times.append(length)
            still_going.append(share)
        object.__setattr__(self, "_times", times)
        object.__setattr__(self, "_still_going", still_going)

    def still_going(self, length_s: float) -> float:
        """The estimated share of calls lasting longer than ``length_s``."""
        index = bisect.bisect_right(self._times, length_s)
        return 1.0 if index == 0 else self._still_going[index - 1]

    def chance_ending_within(self, elapsed_s: float, horizon_s: float) -> float:
        """The chance a call that has lasted ``elapsed_s`` ends within ``horizon_s`` more. 0
        with fewer than ``MIN_TIMED_HANDOFFS`` ended calls, or when no ended call lasted as
        long (nothing is known about calls that long)."""
        if len(self.ended_s) < MIN_TIMED_HANDOFFS:
            return 0.0
        going = self.still_going(elapsed_s)
        if going <= 0:
            return 0.0
        return 1.0 - self.still_going(elapsed_s + horizon_s) / going


def handlers_finishing(
    session: Session, moment: datetime, hold_wait: timedelta, window: timedelta
) -> tuple[float, float]:
    """The expected numbers of handlers on a call now whose call ends within the lead time,
    and in time to take a patient before they have waited ``hold_wait`` (within the lead time
    plus the hold wait, less the wrap-up that follows the call), judged from the handoffs
    queued and the wrap-ups started in the last ``window`` (read only when some handler is on a
    call), with these calls in progress."""
    started = session.scalars(
        select(Handler.state_changed_at).where(Handler.state == HandlerState.ON_CALL)
    ).all()
    if not started:
        return 0.0, 0.0
    talk_times_s, lead_time_s = timed_handoffs(session, moment, window)
    elapsed = [max(0.0, (moment - since).total_seconds()) for since in started]
    survival = TalkSurvival(talk_times_s, elapsed)
    # In time for a patient arriving after the lead time: the call and the wrap-up after it
    # over before the patient has waited the hold wait.
    wrap_up_s = wrap_up_time(session, moment, window)
    in_wait_s = max(0.0, lead_time_s + hold_wait.total_seconds() - wrap_up_s)
    return (
        sum(survival.chance_ending_within(e, lead_time_s) for e in elapsed),
        sum(survival.chance_ending_within(e, in_wait_s) for e in elapsed),
    )


def timed_handoffs(
    session: Session, moment: datetime, window: timedelta
) -> tuple[list[float], float]:
    """(sorted talk times, median lead time) in seconds, from the most recent handoffs queued
    in the last ``window``: talk times of bridged calls that have ended, lead times (call
    started to patient queued) of outbound calls; the lead time is ``LEAD_TIME_PRIOR`` while
    fewer than ``MIN_TIMED_HANDOFFS`` are known."""
    rows = session.execute(
        select(
            Handoff.talk_seconds,
            Handoff.connected_at,
            Handoff.queued_at,
            ContactAttempt.created_at,
        )
        .outerjoin(ContactAttempt, ContactAttempt.id == Handoff.attempt_id)
        .where(Handoff.queued_at >= moment - window, Handoff.queued_at <= moment)
        .order_by(Handoff.queued_at.desc())
        .limit(TIMED_HANDOFFS)
    ).all()
    talk = sorted(
        float(row.talk_seconds)
        for row in rows
        if row.talk_seconds is not None and row.connected_at is not None
    )
    leads = [
        (row.queued_at - row.created_at).total_seconds()
        for row in rows
        if row.created_at is not None and row.queued_at >= row.created_at
    ]
    if len(leads) < MIN_TIMED_HANDOFFS:
        return talk, LEAD_TIME_PRIOR.total_seconds()
    return talk, statistics.median(leads)


def wrap_up_time(session: Session, moment: datetime, window: timedelta) -> float:
    """The median length in seconds of the wrap-ups that ended of the last (up to)
    ``TIMED_HANDOFFS`` started in the last ``window``; ``WRAP_UP_PRIOR`` while fewer than
    ``MIN_TIMED_HANDOFFS`` are known. Reads ``ix_handler_session_handler_started`` per handler
    (a handful of handlers)."""
    handler_ids = session.scalars(select(Handler.id)).all()
    spells = session.execute(
        select(HandlerSession.started_at, HandlerSession.ended_at)
        .where(
            HandlerSession.handler_id.in_(handler_ids),
            HandlerSession.started_at >= moment - window,
            HandlerSession.started_at <= moment,
            HandlerSession.state == HandlerState.WRAP_UP,
            HandlerSession.ended_at.is_not(None),
        )
        .order_by(HandlerSession.started_at.desc())
        .limit(TIMED_HANDOFFS)
    ).all()
    lengths = [(ended - started).total_seconds() for started, ended in spells if ended is not None]
    if len(lengths) < MIN_TIMED_HANDOFFS:
        return WRAP_UP_PRIOR.total_seconds()
    return statistics.median(lengths)
