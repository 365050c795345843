"""Provider work for one attempt: place a call, send an SMS, prepare a letter.

Each follows the same shape (GOV.UK Notify's "only send if still created"):

1. In one transaction: load the attempt; re-check that the referral is still open, the calling
   window still open, and the patient may still get this channel; claim it (pending -> claimed);
   commit. A closed window defers the attempt (it stays pending); anything else cancels it.
2. With **no database session open**, call the provider.
3. In a new transaction record what happened: the provider's id (sent), a permanent refusal
   (final, failed, with the reason), an ambiguous failure (uncertain: the sweeper reconciles),
   or a certain non-delivery after the adapter's short retries (released to try again later).
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from sqlalchemy import select
from sqlalchemy.orm import Session

from rmc_outreach import attempts
from rmc_outreach.clock import now
from rmc_outreach.db import session_scope
from rmc_outreach.engine_config import EngineConfig, in_clock_time
from rmc_outreach.events import PROVIDER_OPT_OUT, PROVIDER_OPT_OUT_ACTOR, SMS_OPTED_OUT_ERROR
from rmc_outreach.messages import render_sms
from rmc_outreach.models import (
    AttemptOutcome,
    AttemptState,
    Channel,
    ContactAttempt,
    Patient,
    Referral,
)
from rmc_outreach.phones import is_fictional
from rmc_outreach.progress import defer, referral_allows
from rmc_outreach.telephony.base import CallRequest, SmsRequest, TelephonyProvider
from rmc_outreach.telephony.errors import (
    AmbiguousProviderError,
    PermanentProviderError,
    RetryableProviderError,
)

log = logging.getLogger(__name__)

WINDOW_CLOSED = "window_closed"
# A supervisor paused this referral (``referral_actions``): the attempt stays pending, its
# referral due now, and dispatch (which claims no paused referral) re-queues it once resumed.
REFERRAL_PAUSED = "referral_paused"
# A call attempt dispatched while no handler was signed in (``dispatch``): when answered it
# offers a call back, never a wait for a handler, even if handlers have signed in meanwhile.
CALL_BACK_OFFER_TEMPLATE = "call_back_offer"
UK_MOBILE_PREFIX = "+447"


class WorkResult(StrEnum):
    """What one provider task did with its attempt."""

    SENT = "sent"
    DEFERRED = "deferred"
    CANCELLED = "cancelled"
    FAILED = "failed"
    UNCERTAIN = "uncertain"
    NOT_PENDING = "not_pending"


@dataclass(frozen=True)
class _Go:
    """The attempt was claimed: what to send, decided inside the transaction."""

    attempt_id: uuid.UUID
    referral_id: int
    patient_id: int
    destination: str
    template: str | None


def refusal_reason(
    attempt: ContactAttempt,
    referral: Referral,
    patient: Patient,
    config: EngineConfig,
    moment: datetime,
) -> str | None:
    """Why this attempt must not go ahead now (None: it may). ``window_closed`` and
    ``referral_paused`` defer it."""
    if not referral_allows(referral, attempt):
        return "referral_closed"
    if referral.outreach_paused_at is not None:
        return REFERRAL_PAUSED
    if patient.contact_opted_out_at is not None:
        return "contact_opted_out"
    if attempt.channel is Channel.LETTER:
        return None if patient.has_postal_address else "no_postal_address"
    reason = _phone_refusal(attempt, patient, config)
    if reason is None and not _window_open_long_enough(config, moment):
        return WINDOW_CLOSED
    return reason


def _window_open_long_enough(config: EngineConfig, moment: datetime) -> bool:
    guard = in_clock_time(config.window_guard)
    return config.window.is_open(moment) and config.window.is_open(moment + guard)


def _phone_refusal(attempt: ContactAttempt, patient: Patient, config: EngineConfig) -> str | None:
    destination = attempt.destination or ""
    checks = [
        (patient.letter_only, "letter_only"),
        # Calls only to the landline, no SMS at all (an attempt made before the flag was set).
        (patient.landline_only and destination != patient.landline_phone, "landline_only"),
        (destination not in (patient.mobile_phone, patient.landline_phone), "number_changed"),
        (config.production and is_fictional(destination), "fictional_number"),
    ]
    if attempt.channel is Channel.SMS:
        checks += [
            (patient.no_sms, "no_sms"),
            (patient.sms_opted_out_at is not None, "sms_opted_out"),
            (
                destination != patient.mobile_phone or not destination.startswith(UK_MOBILE_PREFIX),
                "not_a_mobile",
            ),
        ]
    return next((reason for refused, reason in checks if refused), None)


def _check_and_claim(
    session: Session, attempt_id: uuid.UUID, config: EngineConfig
) -> _Go | WorkResult:
    referral = attempts.lock_referral(session, attempt_id)
    if referral is None:
        log.warning("attempt %s does not exist", attempt_id)
        return WorkResult.NOT_PENDING
    attempt = attempts.get(session, attempt_id, for_update=True)
    if attempt.state is not AttemptState.PENDING:
        return WorkResult.NOT_PENDING
    # Shared lock: an opt-out being written waits for this claim, or this claim sees it.
    patient = session.scalars(
        select(Patient)
        .where(Patient.id == referral.patient_id)
        .with_for_update(read=True)
        .execution_options(populate_existing=True)
    ).one()
    moment = now()
    reason = refusal_reason(attempt, referral, patient, config, moment)
    if reason in (WINDOW_CLOSED, REFERRAL_PAUSED):
        # A paused referral is due again at once: dispatch re-queues it only once resumed.
        until = (
            moment
            if reason == REFERRAL_PAUSED
            else config.window.next_open(moment + in_clock_time(config.window_guard))
        )
        defer(session, referral.id, until)
        log.info("attempt %s deferred: %s", attempt_id, reason)
        return WorkResult.DEFERRED
    if reason is not None:
        attempts.finish(session, attempt_id, AttemptOutcome.CANCELED, error_reason=reason)
        log.info("attempt %s cancelled before contact: %s", attempt_id, reason)
        return WorkResult.CANCELLED
    if not attempts.claim(session, attempt_id):
        return WorkResult.NOT_PENDING
    return _Go(attempt_id, referral.id, patient.id, attempt.destination or "", attempt.template)


def _record_failure(attempt_id: uuid.UUID, error: Exception, config: EngineConfig) -> WorkResult:
    with session_scope() as session:
        attempts.lock_referral_of(session, attempt_id)
        if isinstance(error, PermanentProviderError):
            attempts.finish(
                session, attempt_id, AttemptOutcome.FAILED, error_reason=error.reason[:200]
            )
            if error.code == SMS_OPTED_OUT_ERROR:
                _record_provider_opt_out(session, attempt_id)
            return WorkResult.FAILED
        if isinstance(error, AmbiguousProviderError):
            attempts.mark_uncertain(session, attempt_id, error.reason[:200])
            return WorkResult.UNCERTAIN
        # Retryable after the adapter's own retries: certainly not sent. Try again later.
        attempt = attempts.get(session, attempt_id)
        attempts.release(session, attempt_id)
        defer(session, attempt.referral_id, now() + config.retry_after_provider_outage)
        return WorkResult.DEFERRED


def _record_provider_opt_out(session: Session, attempt_id: uuid.UUID) -> None:
    # Twilio refused because the patient texted STOP to it: keep our own record as well.
    from rmc_outreach.inbound_sms import set_sms_opt_out

    destination = attempts.get(session, attempt_id).destination
    if destination:
        set_sms_opt_out(
            session,
            destination,
            opted_out=True,
            source=PROVIDER_OPT_OUT,
            actor_label=PROVIDER_OPT_OUT_ACTOR,
        )


def place_call(
    attempt_id: uuid.UUID, provider: TelephonyProvider, config: EngineConfig
) -> WorkResult:
    """Place the call for a pending call attempt (see the module docstring for the steps)."""
    with session_scope() as session:
        checked = _check_and_claim(session, attempt_id, config)
    if isinstance(checked, WorkResult):
        return checked
    request = CallRequest(
        to=checked.destination,
        caller_id=config.caller_id,
        answer_url=config.urls.call_answer(
            attempt_id, live_team=checked.template != CALL_BACK_OFFER_TEMPLATE
        ),
        status_callback_url=config.urls.call_status(attempt_id),
        amd_callback_url=config.urls.call_amd(attempt_id),
        ring_timeout_s=config.ring_timeout_s,
    )
    try:
        call = provider.place_call(request)
    except (PermanentProviderError, AmbiguousProviderError, RetryableProviderError) as error:
        log.warning("call attempt %s: %s (%s)", attempt_id, type(error).__name__, error.reason)
        return _record_failure(attempt_id, error, config)
    with session_scope() as session:
        attempts.lock_referral_of(session, attempt_id)
        attempts.mark_sent(session, attempt_id, call.sid)
    log.info("call attempt %s placed", attempt_id)
    return WorkResult.SENT


def send_sms(
    attempt_id: uuid.UUID, provider: TelephonyProvider, config: EngineConfig
) -> WorkResult:
    """Send the SMS of a pending SMS attempt: only to a mobile, never after an SMS opt-out."""
    with session_scope() as session:
        checked = _check_and_claim(session, attempt_id, config)
    if isinstance(checked, WorkResult):
        return checked
    request = SmsRequest(
        to=checked.destination,
        sender=config.sms_sender,
        body=render_sms(checked.template or "invitation", config.public_context),
        status_callback_url=config.urls.sms_status(attempt_id),
    )
    try:
        message = provider.send_sms(request)
    except (PermanentProviderError, AmbiguousProviderError, RetryableProviderError) as error:
        log.warning("sms attempt %s: %s (%s)", attempt_id, type(error).__name__, error.reason)
        return _record_failure(attempt_id, error, config)
    with session_scope() as session:
        attempts.lock_referral_of(session, attempt_id)
        attempts.mark_sent(session, attempt_id, message.sid)
    log.info("sms attempt %s sent", attempt_id)
    return WorkResult.SENT


def prepare_letter(attempt_id: uuid.UUID, config: EngineConfig) -> WorkResult:
    """Record the letter of a pending letter attempt for the next print batch (one transaction:
    no provider is involved, so claim, prepare and 'sent' commit together)."""
    from rmc_outreach import letters

    with session_scope() as session:
        attempts.lock_referral_of(session, attempt_id)
        attempt = attempts.get(session, attempt_id, for_update=True)
        if attempt.state is not AttemptState.PENDING:
            return WorkResult.NOT_PENDING
        referral = session.get_one(Referral, attempt.referral_id)
        reason = refusal_reason(attempt, referral, referral.patient, config, now())
        if reason is not None and reason != WINDOW_CLOSED:
            attempts.finish(session, attempt_id, AttemptOutcome.CANCELED, error_reason=reason)
            return WorkResult.CANCELLED
        if not attempts.claim(session, attempt_id):
            return WorkResult.NOT_PENDING
        try:
            with session.begin_nested():
                letters.prepare_letter(session, attempt_id)
        except ValueError as error:
            log.warning("letter attempt %s: %s", attempt_id, type(error).__name__)
            attempts.finish(
                session, attempt_id, AttemptOutcome.FAILED, error_reason="letter_not_possible"
            )
            return WorkResult.FAILED
        attempts.mark_sent(session, attempt_id, None)
    return WorkResult.SENT
