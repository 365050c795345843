"""Outreach as it moves, for the queue page: today's figures and what is under way now.

Plain functions over a Session (no Flask); every figure is a count, never a person.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy.orm import Session

from rmc_outreach.activity.now import (
    CALLBACK_REASON_LABELS,
    CallbacksWaiting,
    LastPrintBatch,
    PrintQueue,
    ServiceClock,
    UnderWay,
    callback_reason_label,
    callbacks_waiting,
    next_print_cut,
    print_queue,
    service_clock,
    under_way,
)
from rmc_outreach.activity.today import (
    CallResult,
    CallsToday,
    LetterResult,
    LettersToday,
    LocalDay,
    ResponsesToday,
    SmsResult,
    SmsToday,
    attempts_today,
    call_result,
    letter_result,
    local_day,
    responses_today,
    sms_result,
)

__all__ = [
    "CALLBACK_REASON_LABELS",
    "ActivitySnapshot",
    "CallResult",
    "CallbacksWaiting",
    "CallsToday",
    "LastPrintBatch",
    "LetterResult",
    "LettersToday",
    "LocalDay",
    "PrintQueue",
    "ResponsesToday",
    "ServiceClock",
    "SmsResult",
    "SmsToday",
    "UnderWay",
    "activity_snapshot",
    "as_json",
    "attempts_today",
    "call_result",
    "callback_reason_label",
    "callbacks_waiting",
    "letter_result",
    "local_day",
    "next_print_cut",
    "print_queue",
    "responses_today",
    "service_clock",
    "sms_result",
    "under_way",
]


def as_json(value: Any) -> Any:
    """A figures dataclass (or anything inside one) as JSON-ready data."""
    if hasattr(value, "__dataclass_fields__"):
        return as_json(asdict(value))
    if isinstance(value, Mapping):
        return {str(key): as_json(item) for key, item in value.items()}
    if isinstance(value, Iterable) and not isinstance(value, str):
        return [as_json(item) for item in value]
    if isinstance(value, datetime | date):
        return value.isoformat()
    return value


@dataclass(frozen=True)
class ActivitySnapshot:
    """Today's outreach and what is under way, read in one transaction."""

    day: LocalDay
    calls: CallsToday
    sms: SmsToday
    letters: LettersToday
    responses: ResponsesToday
    under_way: UnderWay
    callbacks: CallbacksWaiting
    print_queue: PrintQueue

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready: counts only, nothing about any one patient."""
        return {
            "outreach_today": {
                "day": self.day.day.isoformat(),
                "from": self.day.start.isoformat(),
                "until": self.day.end.isoformat(),
                "calls": as_json(self.calls),
                "sms": as_json(self.sms),
                "letters": as_json(self.letters),
                "responses": as_json(self.responses),
            },
            "under_way": as_json(self.under_way),
            "callbacks_waiting": as_json(self.callbacks),
            "print_queue": as_json(self.print_queue),
        }


def activity_snapshot(session: Session, day: LocalDay) -> ActivitySnapshot:
    """Every activity figure, read in the caller's transaction."""
    calls, sms, letters = attempts_today(session, day)
    return ActivitySnapshot(
        day=day,
        calls=calls,
        sms=sms,
        letters=letters,
        responses=responses_today(session, day),
        under_way=under_way(session),
        callbacks=callbacks_waiting(session),
        print_queue=print_queue(session),
    )
