"""The pipeline benchmark's checks: the run's outcome against the carrier's ledger and the database.

Every check counts violations; each target is 0.

Calls to handlers' endpoints (``client:``, ``sip:``: the live handoff's handler legs) are not
contacts with patients and are left out of every check.

- ``duplicate_calls``: calls the carrier created (``create_call`` answered 201) beyond the first
  for the same attempt, or beyond the first for the same referral and journey step (calls are
  mapped to attempts through the attempt id in their callback URLs); plus call attempts in the
  database beyond the first for a referral and step.
- ``contacts_outside_hours``: calls and SMS the carrier created (201) at a simulated time (the
  ledger's ``at``, read from the shared clock) outside the calling window (``CallingWindow`` with
  the settings' time zone: weekdays 08:00-18:00, never on a bank holiday); plus call and SMS
  attempts whose claim (the last moment the engine decides to contact) was outside the window.
- ``sms_after_opt_out``: SMS the engine asked the carrier to create (any answer, Twilio's own
  21610 "unsubscribed recipient" refusal included) to a number after that number texted STOP and
  before it texted START again, in ledger order (a STOP is logged once our webhook has answered,
  so by then the opt-out is committed; a STOP whose webhook never reached us does not count);
  plus SMS attempts claimed at or after the database's opt-out time of the patient with that
  mobile number.
- ``unfinished_referrals``: referrals still waiting or in outreach, or with an attempt that is not
  final (``unfinished_attempts`` counts those attempts).

Also counted, as quality rather than pass/fail: ``webhook_failures`` (callbacks the simulator could
not deliver or that our web process refused), ``late_call_updates`` (redirects of a call that had
already ended: at high clock speeds a machine stops recording before the engine's reaction, in
real milliseconds, reaches it, so the voicemail is missed) and ``sweeper_fetches`` (calls and texts
the sweeper had to look up because their callbacks were late or lost).

``complete_calls`` counts call attempts that went all the way: created by the carrier through
the SDK (201), final in the database, with their final call-status callback stored (not merely
fetched by the sweeper), every callback stored for them applied, and no callback of theirs
refused or undelivered by our web process.
"""

from __future__ import annotations

import json
import re
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from rmc_outreach.calendar import CallingWindow
from rmc_outreach.events import FINAL_CALL_STATUSES
from rmc_outreach.models import (
    OPEN_REFERRAL_STATUSES,
    AttemptState,
    Channel,
    ContactAttempt,
    Letter,
    LetterStatus,
    Patient,
    ProviderEvent,
    Referral,
)

CREATE_CALL = "create_call"
HANDLER_ENDPOINTS = ("client:", "sip:")
CREATE_MESSAGE = "create_message"
UUID_IN_PATH = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def load_ledger(path: Path) -> list[dict[str, Any]]:
    """Every ledger entry of the run, in the order the simulator recorded them."""
    entries = [json.loads(line) for line in path.read_text("utf-8").splitlines() if line.strip()]
    entries.sort(key=lambda entry: int(entry["seq"]))
    return entries


def _moment(raw: str | None) -> datetime | None:
    return datetime.fromisoformat(raw) if raw else None


@dataclass(frozen=True)
class _Attempt:
    id: str
    referral_id: int
    step: int
    channel: Channel
    state: AttemptState
    provider_sid: str | None
    claimed_at: datetime | None
    destination: str | None


@dataclass
class Outcome:
    """What the checks found; ``examples`` holds a few offending ids per check (for the log)."""

    duplicate_calls: int = 0
    calls_without_attempt: int = 0
    contacts_outside_hours: int = 0
    sms_after_opt_out: int = 0
    unfinished_referrals: int = 0
    unfinished_attempts: int = 0
    complete_calls: int = 0
    calls: int = 0
    sms: int = 0
    letters: int = 0
    statuses: dict[str, int] = field(default_factory=dict)
    carrier_validation_failures: int = 0
    webhook_failures: int = 0
    late_call_updates: int = 0
    sweeper_fetches: int = 0
    examples: dict[str, list[str]] = field(default_factory=dict)

    def example(self, check: str, item: object) -> None:
        """Remember an offending id (at most ten per check)."""
        found = self.examples.setdefault(check, [])
        if len(found) < 10:
            found.append(str(item))


def _attempts(session: Session) -> dict[str, _Attempt]:
    rows = session.execute(
        select(
            ContactAttempt.id,
            ContactAttempt.referral_id,
            ContactAttempt.step,
            ContactAttempt.channel,
            ContactAttempt.state,
            ContactAttempt.provider_sid,
            ContactAttempt.claimed_at,
            ContactAttempt.destination,
        )
    ).all()
    return {str(row[0]): _Attempt(str(row[0]), *row[1:]) for row in rows}


def _requests(ledger: list[dict[str, Any]], operation: str) -> list[dict[str, Any]]:
    return [e for e in ledger if e["kind"] == "request" and e.get("operation") == operation]


def _check_duplicates(
    outcome: Outcome, created_calls: list[dict[str, Any]], attempts: dict[str, _Attempt]
) -> None:
    per_attempt = Counter(str(entry.get("attempt_id")) for entry in created_calls)
    per_step: dict[tuple[int, int], set[str]] = defaultdict(set)
    for attempt_id, count in per_attempt.items():
        attempt = attempts.get(attempt_id)
        if attempt is None:
            outcome.calls_without_attempt += count
            outcome.example("calls_without_attempt", attempt_id)
            continue
        if count > 1:
            outcome.duplicate_calls += count - 1
            outcome.example("duplicate_calls", attempt_id)
        per_step[(attempt.referral_id, attempt.step)].add(attempt_id)
    for (referral_id, step), ids in per_step.items():
        if len(ids) > 1:
            outcome.duplicate_calls += len(ids) - 1
            outcome.example("duplicate_calls", f"referral {referral_id} step {step}")
    stored = Counter(
        (a.referral_id, a.step) for a in attempts.values() if a.channel is Channel.CALL
    )
    for (referral_id, step), count in stored.items():
        if count > 1:
            outcome.duplicate_calls += count - 1
            outcome.example("duplicate_calls", f"stored: referral {referral_id} step {step}")


def _check_hours(
    outcome: Outcome,
    created: list[dict[str, Any]],
    attempts: dict[str, _Attempt],
    window: CallingWindow,
) -> None:
    counted: set[str] = set()
    for entry in created:
        moment = _moment(entry.get("at"))
        if moment is not None and not window.is_open(moment):
            outcome.contacts_outside_hours += 1
            counted.add(str(entry.get("attempt_id")))
            outcome.example("contacts_outside_hours", f"{entry.get('attempt_id')} at {moment}")
    contacted = {str(entry.get("attempt_id")) for entry in created}
    for attempt_id in contacted - counted:
        attempt = attempts.get(attempt_id)
        if attempt is None or attempt.claimed_at is None:
            continue
        if not window.is_open(attempt.claimed_at):
            outcome.contacts_outside_hours += 1
            outcome.example("contacts_outside_hours", f"{attempt_id} claimed {attempt.claimed_at}")


def _answered(entry: dict[str, Any]) -> bool:
    """Whether our webhook received and answered this inbound text (a lost one cannot count)."""
    return 200 <= int(entry.get("webhook_status") or 0) < 300


def _check_opt_outs(
    outcome: Outcome,
    ledger: list[dict[str, Any]],
    attempts: dict[str, _Attempt],
    opted_out_at: dict[str, datetime],
) -> None:
    stopped: set[str] = set()
    counted: set[str] = set()
    for entry in ledger:
        if entry["kind"] == "sms_reply":
            if entry.get("keyword") == "stop" and _answered(entry):
                stopped.add(str(entry.get("from")))
            elif entry.get("keyword") == "start":
                stopped.discard(str(entry.get("from")))
            continue
        if entry["kind"] != "request" or entry.get("operation") != CREATE_MESSAGE:
            continue
        if str(entry.get("to")) in stopped:
            outcome.sms_after_opt_out += 1
            counted.add(str(entry.get("attempt_id")))
            outcome.example("sms_after_opt_out", entry.get("attempt_id"))
    requested = {str(e.get("attempt_id")) for e in _requests(ledger, CREATE_MESSAGE)}
    for attempt_id in requested - counted:
        attempt = attempts.get(attempt_id)
        if attempt is None or attempt.claimed_at is None or attempt.destination is None:
            continue
        since = opted_out_at.get(attempt.destination)
        if since is not None and attempt.claimed_at >= since:
            outcome.sms_after_opt_out += 1
            outcome.example("sms_after_opt_out", f"{attempt_id} (database opt-out)")


def _complete_calls(
    session: Session,
    created_calls: list[dict[str, Any]],
    attempts: dict[str, _Attempt],
    refused_paths: set[str],
) -> int:
    events: dict[str, list[tuple[str, bool]]] = defaultdict(list)
    for owner, key, processed in session.execute(
        select(ProviderEvent.attempt_id, ProviderEvent.event_key, ProviderEvent.processed_at)
        .join(ContactAttempt, ContactAttempt.id == ProviderEvent.attempt_id)
        .where(ContactAttempt.channel == Channel.CALL)
    ):
        events[str(owner)].append((key, processed is not None))
    complete = 0
    for attempt_id in {str(entry.get("attempt_id")) for entry in created_calls}:
        attempt = attempts.get(attempt_id)
        if attempt is None or attempt.state is not AttemptState.FINAL or not attempt.provider_sid:
            continue
        stored = events.get(attempt_id, [])
        final_callback = any(
            key.startswith(f"call-status:{attempt.provider_sid}:")
            and key.split(":")[2] in FINAL_CALL_STATUSES
            and not key.endswith(":fetched")
            for key, _ in stored
        )
        if final_callback and all(done for _, done in stored) and attempt_id not in refused_paths:
            complete += 1
    return complete


def _to_handler(entry: dict[str, Any]) -> bool:
    return str(entry.get("to") or "").startswith(HANDLER_ENDPOINTS)


def check_outcome(session: Session, ledger: list[dict[str, Any]], window: CallingWindow) -> Outcome:
    """Run every check against the ledger and the database; see the module docstring."""
    outcome = Outcome()
    attempts = _attempts(session)
    created = [e for e in _requests(ledger, CREATE_CALL) if e.get("status") == 201]
    # Calls to handlers (client: or sip: endpoints) are not contacts with patients.
    created_calls = [e for e in created if not _to_handler(e)]
    created_sms = [e for e in _requests(ledger, CREATE_MESSAGE) if e.get("status") == 201]
    outcome.calls, outcome.sms = len(created_calls), len(created_sms)
    _check_duplicates(outcome, created_calls, attempts)
    _check_hours(outcome, created_calls + created_sms, attempts, window)
    opted_out_at = {
        str(mobile): since
        for mobile, since in session.execute(
            select(Patient.mobile_phone, func.min(Patient.sms_opted_out_at))
            .where(Patient.sms_opted_out_at.is_not(None), Patient.mobile_phone.is_not(None))
            .group_by(Patient.mobile_phone)
        )
        if since is not None
    }
    _check_opt_outs(outcome, ledger, attempts, opted_out_at)

    unfinished = {a.referral_id for a in attempts.values() if a.state is not AttemptState.FINAL}
    outcome.unfinished_attempts = sum(
        1 for a in attempts.values() if a.state is not AttemptState.FINAL
    )
    unfinished |= set(
        session.scalars(select(Referral.id).where(Referral.status.in_(OPEN_REFERRAL_STATUSES)))
    )
    outcome.unfinished_referrals = len(unfinished)
    for referral_id in sorted(unfinished)[:10]:
        outcome.example("unfinished_referrals", referral_id)
    outcome.statuses = {
        str(status): int(count)
        for status, count in session.execute(
            select(Referral.status, func.count()).group_by(Referral.status)
        )
    }
    outcome.letters = int(
        session.scalar(
            select(func.count()).select_from(Letter).where(Letter.status == LetterStatus.PRINTED)
        )
        or 0
    )
    failures = [e for e in ledger if e["kind"] == "webhook"]
    outcome.webhook_failures = len(failures)
    refused = {m.group(0) for e in failures if (m := UUID_IN_PATH.search(str(e.get("path"))))}
    outcome.complete_calls = _complete_calls(session, created_calls, attempts, refused)
    outcome.carrier_validation_failures = sum(
        1 for e in ledger if e["kind"] == "request" and e.get("validation_failed")
    )
    # Redirects (the voicemail after the beep) that reached a call already over: how late the
    # engine's reaction was in simulated time.
    outcome.late_call_updates = sum(
        1 for e in _requests(ledger, "update_call") if e["status"] == 400
    )
    outcome.sweeper_fetches = len(_requests(ledger, "fetch_call")) + len(
        _requests(ledger, "fetch_message")
    )
    return outcome
