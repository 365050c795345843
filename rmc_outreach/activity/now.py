"""What is under way now: calls and texts in flight, callbacks waiting, letters waiting for
print, and the service's clock and calling window.

Counts only. Attempts not yet final are read through ``ix_contact_attempt_state_claimed_at``
(a small set at any moment), open callbacks through ``ix_callback_request_open``, letters waiting
through ``ix_letter_status_created_at`` and the last print batch by its unique day.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, time

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from rmc_outreach.calendar import CallingWindow
from rmc_outreach.models import (
    AttemptState,
    CallbackRequest,
    Channel,
    ContactAttempt,
    Letter,
    LetterStatus,
    PrintBatch,
)

# The reasons the engine writes (``inbound_sms``, ``call_events``), in words.
CALLBACK_REASON_LABELS: Mapping[str, str] = {
    "sms_reply": "Replied to a text",
    "sms_reply_unmatched": "Text from a number we do not know",
    "sms_reply_ambiguous": "Text from a number several patients share",
    "no_handler": "Pressed 1, but no one was free to answer",
}
NOT_FINAL_STATES = (
    AttemptState.PENDING,
    AttemptState.CLAIMED,
    AttemptState.SENT,
    AttemptState.UNCERTAIN,
)


@dataclass(frozen=True)
class UnderWay:
    """Attempts not yet final, by channel, right now."""

    calls_queued: int
    calls_in_progress: int  # being dialled, ringing or on the line
    calls_checking: int  # outcome unknown: being checked with the carrier
    sms_queued: int
    sms_in_progress: int  # being sent, or sent and awaiting the delivery report
    sms_checking: int


def under_way(session: Session) -> UnderWay:
    """Calls and texts queued, in progress and being checked, read from the attempts not yet
    final (a small set, through the state index)."""
    rows = session.execute(
        select(ContactAttempt.channel, ContactAttempt.state, func.count())
        .where(
            ContactAttempt.state.in_(NOT_FINAL_STATES),
            ContactAttempt.channel.in_((Channel.CALL, Channel.SMS)),
        )
        .group_by(ContactAttempt.channel, ContactAttempt.state)
    ).all()
    found = {(channel, state): count for channel, state, count in rows}

    def of(channel: Channel, *states: AttemptState) -> int:
        return sum(found.get((channel, state), 0) for state in states)

    return UnderWay(
        calls_queued=of(Channel.CALL, AttemptState.PENDING),
        calls_in_progress=of(Channel.CALL, AttemptState.CLAIMED, AttemptState.SENT),
        calls_checking=of(Channel.CALL, AttemptState.UNCERTAIN),
        sms_queued=of(Channel.SMS, AttemptState.PENDING),
        sms_in_progress=of(Channel.SMS, AttemptState.CLAIMED, AttemptState.SENT),
        sms_checking=of(Channel.SMS, AttemptState.UNCERTAIN),
    )


@dataclass(frozen=True)
class CallbacksWaiting:
    """Patients waiting for a person to ring them back."""

    total: int
    oldest_requested_at: datetime | None
    by_reason: Mapping[str, int]


def callbacks_waiting(session: Session) -> CallbacksWaiting:
    """Callback requests not yet completed, by reason, and when the oldest was made."""
    rows = session.execute(
        select(CallbackRequest.reason, func.count(), func.min(CallbackRequest.created_at))
        .where(CallbackRequest.completed_at.is_(None))
        .group_by(CallbackRequest.reason)
        .order_by(CallbackRequest.reason)
    ).all()
    oldest = [created for _reason, _count, created in rows if created is not None]
    return CallbacksWaiting(
        total=sum(count for _reason, count, _created in rows),
        oldest_requested_at=min(oldest) if oldest else None,
        by_reason={reason: count for reason, count, _created in rows},
    )


def callback_reason_label(reason: str) -> str:
    """Words for a callback request's reason."""
    return CALLBACK_REASON_LABELS.get(reason, reason.replace("_", " ").capitalize())


@dataclass(frozen=True)
class LastPrintBatch:
    """The most recent print batch."""

    day: date
    letter_count: int
    cut_at: datetime


@dataclass(frozen=True)
class PrintQueue:
    """Letters waiting for the next print batch, and the last batch cut."""

    letters_waiting: int
    large_print_waiting: int
    last_batch: LastPrintBatch | None


def print_queue(session: Session) -> PrintQueue:
    """Pending letters (in no batch yet) and the latest print batch."""
    waiting, large_print = session.execute(
        select(func.count(), func.coalesce(func.sum(case((Letter.large_print, 1), else_=0)), 0))
        .select_from(Letter)
        .where(Letter.status == LetterStatus.PENDING, Letter.batch_id.is_(None))
    ).one()
    last = session.execute(
        select(PrintBatch.day, PrintBatch.letter_count, PrintBatch.cut_at)
        .order_by(PrintBatch.day.desc())
        .limit(1)
    ).first()
    return PrintQueue(
        letters_waiting=int(waiting),
        large_print_waiting=int(large_print),
        last_batch=LastPrintBatch(last.day, last.letter_count, last.cut_at) if last else None,
    )


@dataclass(frozen=True)
class ServiceClock:
    """The time the service runs by, and what that means for contact right now. Times local."""

    now: datetime
    simulated: bool
    rate: float | None  # simulated seconds per real second, in the demo
    window_open: bool
    window_changes_at: datetime  # closes at (when open), next opens at (when closed)
    closed_because: str | None  # "bank holiday", "not a calling day", "outside calling hours"
    next_print_cut: datetime

    def as_dict(self) -> dict[str, object]:
        """JSON-ready."""
        return {
            "now": self.now.isoformat(),
            "simulated": self.simulated,
            "rate": self.rate,
            "calling_window": {
                "open": self.window_open,
                "closes_at" if self.window_open else "opens_at": self.window_changes_at.isoformat(),
                "closed_because": self.closed_because,
            },
            "next_print_cut": self.next_print_cut.isoformat(),
        }


def next_print_cut(
    window: CallingWindow, cut_time: time, moment: datetime, last_batch_day: date | None
) -> datetime:
    """When the next print batch is cut (local): today at the cut time on a working day not yet
    cut (or now, when that time has passed), else the next working day at the cut time."""
    local = window.local(moment)
    today = local.date()
    if window.is_working_day(today) and last_batch_day != today:
        return max(local, datetime.combine(today, cut_time, tzinfo=window.zone))
    return datetime.combine(window.next_working_day(today), cut_time, tzinfo=window.zone)


def service_clock(
    window: CallingWindow,
    moment: datetime,
    *,
    cut_time: time,
    last_batch_day: date | None,
    simulated_rate: float | None = None,
) -> ServiceClock:
    """The clock, calling window and next print cut at ``moment`` (``simulated_rate`` is given
    when the demo's simulated clock runs)."""
    local = window.local(moment)
    is_open = window.is_open(moment)
    if is_open:
        changes_at = window.local(window.closing(local.date()))
        because = None
    else:
        changes_at = window.local(window.next_open(moment))
        if window.is_bank_holiday(local.date()):
            because = "bank holiday"
        elif not window.is_working_day(local.date()):
            because = "not a calling day"
        else:
            because = "outside calling hours"
    return ServiceClock(
        now=local,
        simulated=simulated_rate is not None,
        rate=simulated_rate,
        window_open=is_open,
        window_changes_at=changes_at,
        closed_because=because,
        next_print_cut=next_print_cut(window, cut_time, moment, last_batch_day),
    )
