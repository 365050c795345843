"""Alerts for supervisors: what needs someone to act, in plain words, each with a level.

Levels: ``critical`` (act now: the Ofcom cap is reached, or patients are waiting with nobody to
take them) and ``warning`` (look soon). The page shows the level as a word, not only a colour.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from rmc_outreach.models import AttemptOutcome, AttemptState, Channel, ContactAttempt

PROVIDER_ERROR_WINDOW = timedelta(minutes=15)
# Provider errors are read through ``ix_contact_attempt_state_claimed_at`` (final attempts claimed
# recently). A call fails at most this long after its claim (ring time plus a long call), so a
# failure within the window belongs to an attempt claimed within window + this margin.
CLAIM_TO_FAILURE_MARGIN = timedelta(hours=1)


class AlertLevel(StrEnum):
    """How urgent an alert is."""

    CRITICAL = "critical"
    WARNING = "warning"


ALERT_LEVEL_LABELS = {AlertLevel.CRITICAL: "Act now", AlertLevel.WARNING: "Warning"}


@dataclass(frozen=True)
class Alert:
    """One thing a supervisor should know; ``code`` is stable for tools, ``text`` is for people."""

    level: AlertLevel
    code: str
    text: str

    @property
    def level_label(self) -> str:
        """The level in words."""
        return ALERT_LEVEL_LABELS[self.level]


def provider_errors_since(session: Session, since: datetime) -> int:
    """Calls and texts that failed at the carrier and ended at or after ``since``.

    A provider error is a call or SMS attempt made final with outcome ``failed`` (refused by the
    carrier, an unreachable destination, or a send never confirmed). ``error_reason`` alone is
    not one: it is also written for cancellations (the patient was reached first) and for texts
    a handset did not receive.
    """
    failures = session.scalar(
        select(func.count())
        .select_from(ContactAttempt)
        .where(
            ContactAttempt.state == AttemptState.FINAL,
            ContactAttempt.claimed_at >= since - CLAIM_TO_FAILURE_MARGIN,
            ContactAttempt.channel.in_((Channel.CALL, Channel.SMS)),
            ContactAttempt.outcome == AttemptOutcome.FAILED,
            func.coalesce(ContactAttempt.ended_at, ContactAttempt.claimed_at) >= since,
        )
    )
    return int(failures or 0)


def percent(rate: float) -> str:
    """A rate as people write it: 0.025 is "2.5%", 0.03 is "3%"."""
    return f"{rate * 100:.1f}".removesuffix(".0") + "%"


def plural(count: int, one: str, many: str) -> str:
    """ "1 patient", "2 patients"."""
    return f"{count} {one if count == 1 else many}"


def abandoned_alert(abandoned: int, live_answered: int, cap: float, *, over: bool) -> Alert:
    """The abandoned-rate alert: at or over the cap (critical) or close to it (warning)."""
    rate = percent(abandoned / live_answered)
    counts = f"{abandoned} of {plural(live_answered, 'live-answered call', 'live-answered calls')}"
    if over:
        return Alert(
            AlertLevel.CRITICAL,
            "abandoned_rate_at_cap",
            f"Abandoned calls today are at {rate} ({counts}): at or over the {percent(cap)} "
            "limit. Slow outbound calling or bring more handlers online.",
        )
    return Alert(
        AlertLevel.WARNING,
        "abandoned_rate_near_cap",
        f"Abandoned calls today are at {rate} ({counts}), close to the {percent(cap)} limit.",
    )


def no_handler_alert(waiting: int) -> Alert:
    """Patients are waiting and no handler is available."""
    verb = "is" if waiting == 1 else "are"
    return Alert(
        AlertLevel.CRITICAL,
        "patients_waiting_no_handler",
        f"{plural(waiting, 'patient', 'patients')} {verb} waiting for a handler and no handler "
        "is available.",
    )


def provider_errors_alert(errors: int) -> Alert:
    """Calls or texts failed at the carrier recently."""
    minutes = int(PROVIDER_ERROR_WINDOW.total_seconds() // 60)
    return Alert(
        AlertLevel.WARNING,
        "provider_errors",
        f"{plural(errors, 'call or text', 'calls or texts')} failed at the telephony provider "
        f"in the last {minutes} minutes.",
    )


def paused_scopes(session: Session) -> tuple[str, ...]:
    """The scopes outreach is paused for (``all`` or priorities), oldest pause first."""
    from rmc_outreach.pacing import pauses

    return tuple(pause.scope for pause in pauses(session))


PAUSE_SCOPE_WORDS = {"all": "all", "2ww": "two-week-wait"}


def paused_alert(scopes: tuple[str, ...]) -> Alert:
    """Automated outreach is paused: nothing is dialled or texted for these referrals."""
    words = ", ".join(PAUSE_SCOPE_WORDS.get(scope, scope) for scope in scopes)
    return Alert(
        AlertLevel.WARNING,
        "outreach_paused",
        f"Automated outreach is paused for {words} referrals: no calls or texts go to them "
        "until it is resumed (python -m rmc_outreach outreach resume).",
    )
