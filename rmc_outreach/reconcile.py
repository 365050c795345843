"""The sweeper: resolve attempts stuck between states by asking the provider, never by re-dialling
blindly. Run by beat every 30 seconds.

- **claimed, no provider id, claimed long ago** (the worker died around the provider call) and
  **uncertain** (the provider's answer was lost): look the call up (``find_calls(to,
  started_after=claimed_at)``). Found: adopt its id (and its final status, if it has one). Not
  found: nothing was dialled, so the attempt is released to pending and tried again. An SMS cannot
  be looked up: it is finished as failed (``send_unconfirmed``), never sent twice.
- **sent calls with no final status after a long time** (callbacks lost): fetch the call and
  apply what the provider says, through the same event path as a webhook.
- **sent SMS with no final delivery report after a long time** (the report was lost): fetch the
  message; a final status is stored under the webhook's own key and applied like it.
- **pending attempts nobody worked** (the enqueue after dispatch was lost): queued again.
- **events stored but never applied** (the enqueue after the webhook was lost): applied again.
- **handlers' answered calls still open long after** (every callback of their end was lost):
  fetched; one the provider says is over gets its final status applied (``acd.leg_sweep``).
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from rmc_outreach import attempts
from rmc_outreach.acd.leg_sweep import reconcile_open_legs
from rmc_outreach.clock import now as clock_now
from rmc_outreach.db import session_scope
from rmc_outreach.dispatch import QueuedAttempt
from rmc_outreach.engine_config import EngineConfig, in_clock_time
from rmc_outreach.events import (
    FINAL_CALL_STATUSES,
    FINAL_SMS_STATUSES,
    EventKind,
    amd_key,
    call_status_key,
    record_event,
    sms_status_key,
)
from rmc_outreach.models import (
    AttemptOutcome,
    AttemptState,
    Channel,
    ContactAttempt,
    ProviderEvent,
    Referral,
)
from rmc_outreach.progress import defer
from rmc_outreach.telephony.base import ProviderCall, TelephonyProvider
from rmc_outreach.telephony.errors import ProviderError

log = logging.getLogger(__name__)

# Calls are looked up from a little before the claim: clocks of two systems never agree exactly.
LOOKUP_MARGIN = timedelta(minutes=1)


@dataclass(frozen=True)
class _Stuck:
    attempt_id: uuid.UUID
    channel: Channel
    destination: str | None
    claimed_at: datetime | None
    provider_sid: str | None


@dataclass
class SweepResult:
    """What a sweep did, and the work it leaves to enqueue."""

    requeue: list[QueuedAttempt] = field(default_factory=list)
    events: list[int] = field(default_factory=list)
    adopted: int = 0
    released: int = 0
    failed: int = 0
    fetched: int = 0


def _stuck(session: Session, *conditions: object, limit: int) -> list[_Stuck]:
    rows = session.scalars(
        select(ContactAttempt)
        .where(*conditions)  # type: ignore[arg-type]
        .order_by(ContactAttempt.claimed_at)
        .limit(limit)
    ).all()
    return [
        _Stuck(row.id, row.channel, row.destination, row.claimed_at, row.provider_sid)
        for row in rows
    ]


def sweep(
    provider: TelephonyProvider, config: EngineConfig, *, moment: datetime | None = None
) -> SweepResult:
    """One sweep; the caller enqueues ``result.requeue`` and ``result.events`` afterwards."""
    moment = moment or clock_now()
    limit = config.sweep_batch_size
    with session_scope(read_only=True) as session:
        unresolved = _stuck(
            session,
            ContactAttempt.state.in_((AttemptState.CLAIMED, AttemptState.UNCERTAIN)),
            ContactAttempt.provider_sid.is_(None),
            ContactAttempt.claimed_at < moment - in_clock_time(config.stuck_claimed_after),
            limit=limit,
        )
        stale_calls = _stuck(
            session,
            ContactAttempt.state == AttemptState.SENT,
            ContactAttempt.channel == Channel.CALL,
            ContactAttempt.claimed_at < moment - config.stale_sent_call_after,
            limit=limit,
        )
        stale_texts = _stuck(
            session,
            ContactAttempt.state == AttemptState.SENT,
            ContactAttempt.channel == Channel.SMS,
            ContactAttempt.provider_sid.is_not(None),
            ContactAttempt.claimed_at < moment - config.stale_sent_sms_after,
            ContactAttempt.claimed_at > moment - config.sms_report_horizon,
            limit=limit,
        )
        pending = session.execute(
            select(ContactAttempt.id, ContactAttempt.channel)
            .join(Referral, Referral.id == ContactAttempt.referral_id)
            .where(
                ContactAttempt.state == AttemptState.PENDING,
                ContactAttempt.created_at < moment - in_clock_time(config.stale_pending_after),
                Referral.next_action_at.is_(None),
            )
            .limit(limit)
        ).all()
        unapplied = session.scalars(
            select(ProviderEvent.id)
            .where(
                ProviderEvent.processed_at.is_(None),
                ProviderEvent.received_at < moment - in_clock_time(config.unapplied_event_after),
            )
            .order_by(ProviderEvent.received_at)
            .limit(limit)
        ).all()
    result = SweepResult(
        requeue=[QueuedAttempt(row.id, row.channel) for row in pending], events=list(unapplied)
    )
    for stuck in unresolved:
        _resolve_unsent(stuck, provider, moment, result)
    for stuck in stale_calls:
        _refresh_sent_call(stuck, provider, result)
    for stuck in stale_texts:
        _refresh_sent_sms(stuck, provider, result)
    # Handlers' answered calls whose end never reached us (``acd.leg_sweep``).
    result.events += reconcile_open_legs(provider, moment, limit=limit)
    if unresolved or stale_calls or stale_texts or pending or result.events:
        log.info(
            "sweep: %s adopted, %s released, %s failed, %s fetched, %s requeued, %s events",
            result.adopted,
            result.released,
            result.failed,
            result.fetched,
            len(result.requeue),
            len(result.events),
        )
    return result


def _resolve_unsent(
    stuck: _Stuck, provider: TelephonyProvider, moment: datetime, result: SweepResult
) -> None:
    if stuck.channel is not Channel.CALL:
        with session_scope() as session:
            attempts.lock_referral_of(session, stuck.attempt_id)
            if attempts.finish(
                session, stuck.attempt_id, AttemptOutcome.FAILED, error_reason="send_unconfirmed"
            ):
                result.failed += 1
        return
    if not stuck.destination or stuck.claimed_at is None:
        return
    try:
        calls = provider.find_calls(stuck.destination, stuck.claimed_at - LOOKUP_MARGIN)
    except ProviderError as error:
        log.warning("sweep: lookup for attempt %s failed (%s)", stuck.attempt_id, error.reason)
        return
    with session_scope() as session:
        attempts.lock_referral_of(session, stuck.attempt_id)
        known = set(
            session.scalars(
                select(ContactAttempt.provider_sid).where(
                    ContactAttempt.provider_sid.in_([call.sid for call in calls])
                )
            )
        )
        # Another attempt to the same number may have its own call in the list: never adopt it.
        calls = [call for call in calls if call.sid not in known]
        if calls:
            call = calls[0]
            attempts.mark_sent(session, stuck.attempt_id, call.sid, started_at=call.start_time)
            result.adopted += 1
            _record_provider_view(session, stuck.attempt_id, call, result)
        elif attempts.release(session, stuck.attempt_id):
            # The provider has no such call: nothing was dialled. Dispatch queues it again.
            attempt = attempts.get(session, stuck.attempt_id)
            defer(session, attempt.referral_id, moment)
            result.released += 1


def _refresh_sent_call(stuck: _Stuck, provider: TelephonyProvider, result: SweepResult) -> None:
    if stuck.provider_sid is None:
        return
    try:
        call = provider.fetch_call(stuck.provider_sid)
    except ProviderError as error:
        log.warning("sweep: fetch for attempt %s failed (%s)", stuck.attempt_id, error.reason)
        return
    result.fetched += 1
    with session_scope() as session:
        attempts.lock_referral_of(session, stuck.attempt_id)
        _record_provider_view(session, stuck.attempt_id, call, result)


def _refresh_sent_sms(stuck: _Stuck, provider: TelephonyProvider, result: SweepResult) -> None:
    if stuck.provider_sid is None:
        return
    try:
        message = provider.fetch_message(stuck.provider_sid)
    except ProviderError as error:
        log.warning("sweep: fetch for attempt %s failed (%s)", stuck.attempt_id, error.reason)
        return
    result.fetched += 1
    if message.status not in FINAL_SMS_STATUSES:
        return
    payload = {"MessageSid": message.sid, "MessageStatus": message.status}
    if message.error_code is not None:
        payload["ErrorCode"] = str(message.error_code)
    with session_scope() as session:
        event_id = record_event(
            session,
            event_key=sms_status_key(message.sid, message.status),
            kind=EventKind.SMS_STATUS,
            payload=payload,
            attempt_id=stuck.attempt_id,
            provider_sid=message.sid,
        )
    if event_id is not None:
        result.events.append(event_id)


def _record_provider_view(
    session: Session, attempt_id: uuid.UUID, call: ProviderCall, result: SweepResult
) -> None:
    """Store what the provider says about a call as events, applied like any webhook."""
    if call.answered_by:
        event_id = record_event(
            session,
            event_key=amd_key(call.sid),
            kind=EventKind.CALL_AMD,
            payload={"CallSid": call.sid, "AnsweredBy": call.answered_by},
            attempt_id=attempt_id,
            provider_sid=call.sid,
        )
        if event_id is not None:
            result.events.append(event_id)
    if call.status in FINAL_CALL_STATUSES:
        payload = {"CallSid": call.sid, "CallStatus": call.status}
        if call.duration_s is not None:
            payload["CallDuration"] = str(call.duration_s)
        event_id = record_event(
            session,
            event_key=call_status_key(call.sid, call.status, "fetched"),
            kind=EventKind.CALL_STATUS,
            payload=payload,
            attempt_id=attempt_id,
            provider_sid=call.sid,
        )
        if event_id is not None:
            result.events.append(event_id)
