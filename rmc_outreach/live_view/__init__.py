"""The supervisors' live view: the whole floor at one moment, as one frozen snapshot.

``live_snapshot`` reads every figure in the caller's transaction with small, index-bounded
queries (each module says which index bounds its reads), so a page polling it every two seconds
costs what is live now and today, never the history of the tables. The snapshot holds counts,
rates and handlers' display names; nothing about any patient.

Definitions, one each:

- referrals by status: every referral, counted by status (``queue_view``);
- calls ringing, in the IVR, at an answering machine, being checked, waiting for a handler, on a
  handler, in flight: ``floor.CallsNow``;
- handlers by state with time in state: ``floor.HandlersNow``;
- today's attempts by outcome: the queue page's figures (``activity.attempts_today``);
- reach rate so far today: ``today.ReachToday``;
- abandoned-call rate today against the cap: ``today.AbandonedToday``;
- pacing ratio: calls in flight per available handler; None when no handler is available;
- pacing now: what pacing decides now and why (``pacing_now.PacingNow``: calls per free
  handler, calls it would start, why none, one to one at the abandoned-call limit), when the
  caller asks for it;
- callbacks waiting: requests not completed (``activity.callbacks_waiting``), and the oldest's
  wait;
- alerts: ``alerts``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from rmc_outreach.activity import (
    CallbacksWaiting,
    CallsToday,
    LettersToday,
    LocalDay,
    SmsToday,
    as_json,
    attempts_today,
    callbacks_waiting,
    local_day,
)
from rmc_outreach.calendar import CallingWindow
from rmc_outreach.dispatch import calls_in_flight
from rmc_outreach.engine_config import EngineConfig
from rmc_outreach.live_view.alerts import (
    PROVIDER_ERROR_WINDOW,
    Alert,
    abandoned_alert,
    no_handler_alert,
    paused_alert,
    paused_scopes,
    provider_errors_alert,
    provider_errors_since,
)
from rmc_outreach.live_view.floor import (
    HANDLER_STATE_LABELS,
    CallsNow,
    HandlersNow,
    calls_unanswered,
    handlers_now,
    handoffs_now,
    seconds_since,
)
from rmc_outreach.live_view.pacing_now import PacingNow, pacing_now
from rmc_outreach.live_view.today import (
    ABANDONED_RATE_CAP,
    AbandonedToday,
    ReachToday,
    abandoned_today,
    reach_today,
)
from rmc_outreach.models import ReferralStatus
from rmc_outreach.pacing import WAITING_GRACE
from rmc_outreach.queue_view import count_by_status_and_priority

# The engine's default hold wait (``EngineConfig.hold_wait``), for callers without a config.
DEFAULT_HOLD_WAIT = timedelta(seconds=60)

__all__ = [
    "ABANDONED_RATE_CAP",
    "HANDLER_STATE_LABELS",
    "AbandonedToday",
    "Alert",
    "CallsNow",
    "HandlersNow",
    "LiveSnapshot",
    "ReachToday",
    "live_snapshot",
]


@dataclass(frozen=True)
class LiveSnapshot:
    """Everything the live view shows, read at ``generated_at`` (local time of the centre)."""

    generated_at: datetime
    day: LocalDay
    referrals_by_status: Mapping[ReferralStatus, int]
    calls: CallsNow
    handlers: HandlersNow
    calls_today: CallsToday
    sms_today: SmsToday
    letters_today: LettersToday
    reach: ReachToday
    abandoned: AbandonedToday
    pacing_ratio: float | None
    pacing_now: PacingNow | None
    callbacks: CallbacksWaiting
    oldest_callback_wait_seconds: int | None
    provider_errors: int
    alerts: tuple[Alert, ...]

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready: counts, rates, durations in seconds and handlers' display names only."""
        handlers = self.handlers
        return {
            "generated_at": self.generated_at.isoformat(),
            "day": self.day.day.isoformat(),
            "referrals": {
                "by_status": {status.value: n for status, n in self.referrals_by_status.items()},
                "total": sum(self.referrals_by_status.values()),
            },
            "calls": as_json(self.calls),
            "handlers": {
                "by_state": {state.value: n for state, n in handlers.by_state.items()},
                "signed_in": as_json(handlers.signed_in),
                "available": handlers.available,
            },
            "today": {
                "calls": as_json(self.calls_today),
                "sms": as_json(self.sms_today),
                "letters": as_json(self.letters_today),
            },
            "reach": as_json(self.reach),
            "abandoned": {
                **as_json(self.abandoned),
                "near_cap": self.abandoned.near_cap,
                "over_cap": self.abandoned.over_cap,
                "close_to_cap": self.abandoned.close_to_cap,
            },
            "pacing": {
                "calls_in_flight": self.calls.in_flight,
                "available_handlers": handlers.available,
                "ratio": self.pacing_ratio,
                **self._pacing_now_dict(),
            },
            "callbacks": {
                "waiting": self.callbacks.total,
                "oldest_requested_at": as_json(self.callbacks.oldest_requested_at),
                "oldest_wait_seconds": self.oldest_callback_wait_seconds,
                "by_reason": dict(self.callbacks.by_reason),
            },
            "provider_errors": {
                "count": self.provider_errors,
                "window_minutes": int(PROVIDER_ERROR_WINDOW.total_seconds() // 60),
            },
            "alerts": [
                {"level": alert.level.value, "label": alert.level_label, **as_json(alert)}
                for alert in self.alerts
            ],
        }

    def _pacing_now_dict(self) -> dict[str, Any]:
        now = self.pacing_now
        if now is None:
            return {}
        return {
            "calls_per_free_handler": now.calls_per_free_handler,
            "calls_allowed": now.calls_allowed,
            "holding": None if now.holding is None else now.holding.value,
            "one_to_one": now.one_to_one,
            "day_allowance": now.day_allowance,
            "status": now.status,
        }


def live_snapshot(
    session: Session,
    moment: datetime,
    window: CallingWindow,
    *,
    abandoned_rate_cap: float = ABANDONED_RATE_CAP,
    hold_wait: timedelta = DEFAULT_HOLD_WAIT,
    config: EngineConfig | None = None,
) -> LiveSnapshot:
    """Every live figure at ``moment``, read in the caller's transaction. "Today" is the local
    day of the calling window's time zone; ``window``, ``abandoned_rate_cap`` and ``hold_wait``
    are the engine's (``EngineConfig``); with the engine's ``config``, pacing's decision too."""
    moment = window.local(moment)
    day = local_day(moment, window.timezone)
    counts = count_by_status_and_priority(session)
    unanswered = calls_unanswered(session)
    handoffs = handoffs_now(
        session, waiting_since=moment - hold_wait - WAITING_GRACE, day_start=day.start
    )
    in_flight = calls_in_flight(session)
    calls = CallsNow(
        ringing=unanswered.ringing,
        in_ivr=unanswered.in_ivr,
        at_answering_machine=unanswered.at_answering_machine,
        checking=unanswered.checking,
        waiting_for_handler=handoffs.waiting,
        longest_wait_seconds=seconds_since(moment, handoffs.oldest_queued_at),
        on_handler=handoffs.connected,
        in_flight=in_flight,
    )
    handlers = handlers_now(session, moment)
    calls_today, sms_today, letters_today = attempts_today(session, day)
    abandoned = abandoned_today(session, day, window, abandoned_rate_cap)
    callbacks = callbacks_waiting(session)
    provider_errors = provider_errors_since(session, moment - PROVIDER_ERROR_WINDOW)
    return LiveSnapshot(
        generated_at=moment,
        day=day,
        referrals_by_status={status: counts.status_total(status) for status in ReferralStatus},
        calls=calls,
        handlers=handlers,
        calls_today=calls_today,
        sms_today=sms_today,
        letters_today=letters_today,
        reach=reach_today(session, day),
        abandoned=abandoned,
        pacing_ratio=round(in_flight / handlers.available, 2) if handlers.available else None,
        pacing_now=None if config is None else pacing_now(session, config, moment),
        callbacks=callbacks,
        oldest_callback_wait_seconds=seconds_since(moment, callbacks.oldest_requested_at),
        provider_errors=provider_errors,
        alerts=_alerts(abandoned, calls, handlers, provider_errors, paused_scopes(session)),
    )


def _alerts(
    abandoned: AbandonedToday,
    calls: CallsNow,
    handlers: HandlersNow,
    provider_errors: int,
    paused: tuple[str, ...] = (),
) -> tuple[Alert, ...]:
    found: list[Alert] = []
    if paused:
        found.append(paused_alert(paused))
    if abandoned.over_cap or abandoned.close_to_cap:
        found.append(
            abandoned_alert(
                abandoned.abandoned,
                abandoned.live_answered,
                abandoned.cap,
                over=abandoned.over_cap,
            )
        )
    if calls.waiting_for_handler and not handlers.available:
        found.append(no_handler_alert(calls.waiting_for_handler))
    if provider_errors:
        found.append(provider_errors_alert(provider_errors))
    # Act-now alerts first, in the order found.
    return tuple(sorted(found, key=lambda alert: alert.level != "critical"))
