"""Applying one call callback: record its facts, act on a keypad choice, settle the attempt.

Keypad: 1 speak to the booking team (the patient is reached and queued; issue 4 brings handlers,
until then the hold times out into a callback request), 2 text me how to book (reached; the
how-to-book SMS is queued when the patient may get texts), 3 I no longer need this appointment
(declined; every channel stops). A machine answering gets the safe voicemail after the beep,
or the call is ended when the patient asked for no voicemails.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Collection
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from rmc_outreach import attempts
from rmc_outreach.acd.apply import patient_call_ended
from rmc_outreach.clock import now
from rmc_outreach.db import session_scope
from rmc_outreach.engine_config import EngineConfig
from rmc_outreach.events import (
    FINAL_CALL_STATUSES,
    MACHINE_ANSWERS,
    EventKind,
    FollowUps,
    MachineAnswer,
    StoredEvent,
    settle_call,
)
from rmc_outreach.models import (
    CallbackRequest,
    Channel,
    ContactAttempt,
    Handoff,
    Patient,
    ProviderEvent,
    Referral,
    ReferralStatus,
)
from rmc_outreach.progress import reach
from rmc_outreach.telephony import twiml
from rmc_outreach.telephony.base import TelephonyProvider
from rmc_outreach.telephony.errors import ProviderError

log = logging.getLogger(__name__)

SPEAK_TO_TEAM, TEXT_ME, NOT_NEEDED = "1", "2", "3"
CHOICES = frozenset({SPEAK_TO_TEAM, TEXT_ME, NOT_NEEDED})
HOW_TO_BOOK_TEMPLATE = "how_to_book"
NO_HANDLER_REASON = "no_handler"
IVR_CALLBACK_REASON = "ivr_callback"
# Stored with a keypad choice: what key 1 offered (a wait for a handler unless this says so).
OFFERED = "RmcOffered"
CALL_BACK_OFFERED = "call_back"


def may_text(patient: Patient) -> bool:
    """Whether this patient may be sent an SMS at all (mobile, no flag, no opt-out).

    A landline-only patient may not: pressing 2 ("text me how to book") then hears the booking
    number instead (``call_us_to_book``) and no text is sent."""
    return bool(
        patient.mobile_phone
        and patient.mobile_phone.startswith("+447")
        and not patient.no_sms
        and not patient.letter_only
        and not patient.landline_only
        and patient.sms_opted_out_at is None
        and patient.contact_opted_out_at is None
    )


def _int(value: object) -> int | None:
    try:
        return int(str(value))
    except (TypeError, ValueError):
        return None


def call_facts(event: StoredEvent) -> dict[str, Any]:
    """The attempt facts a call callback carries (``attempts.ANNOTATABLE_FACTS``)."""
    payload = event.payload
    facts: dict[str, Any] = {"provider_sid": str(payload.get("CallSid") or "") or None}
    if event.kind == EventKind.CALL_STATUS:
        status = str(payload.get("CallStatus") or "")
        if status == "in-progress":
            facts["answered_at"] = event.received_at
        elif status in FINAL_CALL_STATUSES:
            facts["provider_status"] = status
            facts["duration_seconds"] = _int(payload.get("CallDuration"))
            facts["ended_at"] = event.received_at
    elif event.kind == EventKind.CALL_ANSWER:
        facts["answered_at"] = event.received_at
    elif event.kind == EventKind.CALL_AMD:
        facts["answered_by"] = str(payload.get("AnsweredBy") or "") or None
    elif event.kind == EventKind.CALL_CHOICE:
        digit = str(payload.get("Digits") or "").strip()
        if digit in CHOICES:
            facts["answered_at"] = event.received_at
            facts["keypad_choice"] = digit
    return facts


def apply_call_event(
    session: Session, event: StoredEvent, attempt: ContactAttempt, follow_ups: FollowUps
) -> None:
    """Record the facts a call callback carries, act on the first of each, settle the attempt.

    ``attempt`` is loaded in this transaction under its referral's lock and kept up to date.
    """
    newly = attempts.record_facts(session, attempt, call_facts(event))
    call_sid = attempt.provider_sid
    machine = attempt.answered_by in MACHINE_ANSWERS and attempt.keypad_choice is None
    if "answered_by" in newly and machine and call_sid:
        patient = _patient_of(session, attempt)
        follow_ups.machine_answers.append(
            MachineAnswer(attempt.id, call_sid, leave_voicemail=not patient.no_voicemail)
        )
    if "keypad_choice" in newly and attempt.keypad_choice is not None:
        # Only a person presses a key: answering-machine detection got this call wrong, and
        # the voicemail must not interrupt them (they may be waiting for a handler).
        follow_ups.machine_answers = [
            answer for answer in follow_ups.machine_answers if answer.attempt_id != attempt.id
        ]
        _act_on_choice(session, attempt, attempt.keypad_choice, event, follow_ups)
    if _decided(newly, attempt):
        follow_ups.pace_now = True
    if event.kind == EventKind.CALL_QUEUE_LEAVE:
        _abandoned(session, attempt, event)
    if "provider_status" in newly:
        patient_call_ended(session, attempt.id, event.received_at, follow_ups)
    settle_call(session, attempt)


def _decided(newly: Collection[str], attempt: ContactAttempt) -> bool:
    """Whether the facts just recorded settle that the call brings nobody to a handler (pacing
    counts it undecided until then): a machine answered, a key other than "speak to the booking
    team" was pressed, or the call ended."""
    if "answered_by" in newly and attempt.answered_by in MACHINE_ANSWERS:
        return True
    if "keypad_choice" in newly and attempt.keypad_choice != SPEAK_TO_TEAM:
        return True
    return "provider_status" in newly


def _patient_of(session: Session, attempt: ContactAttempt) -> Patient:
    referral = session.get_one(Referral, attempt.referral_id)
    return referral.patient


def _act_on_choice(
    session: Session,
    attempt: ContactAttempt,
    digit: str,
    event: StoredEvent,
    follow_ups: FollowUps,
) -> None:
    if digit == NOT_NEEDED:
        reach(
            session,
            attempt.referral_id,
            Channel.CALL,
            status=ReferralStatus.DECLINED,
            at=event.received_at,
        )
        return
    reach(session, attempt.referral_id, Channel.CALL, at=event.received_at)
    if digit == SPEAK_TO_TEAM and event.payload.get(OFFERED) == CALL_BACK_OFFERED:
        # Nobody was signed in: key 1 asked the team to call back, nobody waited.
        session.add(
            CallbackRequest(
                referral_id=attempt.referral_id,
                reason=IVR_CALLBACK_REASON,
                phone=attempt.destination,
                created_at=now(),
                due_at=now(),
            )
        )
        return
    if digit == SPEAK_TO_TEAM:
        _handoff_for(session, attempt, event)
        return
    patient = _patient_of(session, attempt)
    if not may_text(patient):
        return
    sms_id = attempts.create(
        session,
        referral_id=attempt.referral_id,
        step=attempt.step,
        channel=Channel.SMS,
        destination=patient.mobile_phone,
        template=HOW_TO_BOOK_TEMPLATE,
    )
    if sms_id is not None:
        follow_ups.sms_attempt_ids.append(sms_id)


def _handoff_for(session: Session, attempt: ContactAttempt, event: StoredEvent) -> Handoff:
    handoff = session.scalars(select(Handoff).where(Handoff.attempt_id == attempt.id)).first()
    if handoff is None:
        handoff = Handoff(
            attempt_id=attempt.id, referral_id=attempt.referral_id, queued_at=event.received_at
        )
        session.add(handoff)
        session.flush()
    return handoff


def _abandoned(session: Session, attempt: ContactAttempt, event: StoredEvent) -> None:
    """Nobody took the call in time: the patient heard the no-handler message. The call counts
    as abandoned (Ofcom) and a handler rings the patient back."""
    reach(session, attempt.referral_id, Channel.CALL, at=event.received_at)
    handoff = _handoff_for(session, attempt, event)
    handoff.abandoned = True
    handoff.ended_at = event.received_at
    session.add(
        CallbackRequest(
            referral_id=attempt.referral_id,
            reason=NO_HANDLER_REASON,
            phone=attempt.destination,
            created_at=now(),
            due_at=now(),
        )
    )
    log.info("attempt %s: no handler in time, callback requested", attempt.id)


def _key_pressed(attempt_id: uuid.UUID) -> bool:
    with session_scope(read_only=True) as session:
        stored = session.scalar(
            select(ProviderEvent.id)
            .where(
                ProviderEvent.attempt_id == attempt_id,
                ProviderEvent.kind == EventKind.CALL_CHOICE,
            )
            .limit(1)
        )
    return stored is not None


def answer_machines(
    follow_ups: FollowUps, provider: TelephonyProvider, config: EngineConfig
) -> int:
    """Redirect calls a machine answered: voicemail after the beep, or hang up. Runs with no
    session open; records each voicemail left and settles its attempt. Returns how many.

    A call where a key was pressed meanwhile (its choice stored, even if not yet applied) is
    left alone: a person answered it, whatever the detection said."""
    left = 0
    for machine in follow_ups.machine_answers:
        if _key_pressed(machine.attempt_id):
            log.info("attempt %s: a key was pressed, not a machine", machine.attempt_id)
            continue
        document = twiml.voicemail(config.public_context) if machine.leave_voicemail else None
        try:
            provider.update_call_twiml(machine.call_sid, document or twiml.hang_up())
        except ProviderError as error:
            # Most often the call already ended: the outcome stays machine_no_message.
            log.info("attempt %s: call not redirected (%s)", machine.attempt_id, error.reason)
            continue
        if machine.leave_voicemail:
            with session_scope() as session:
                attempts.lock_referral_of(session, machine.attempt_id)
                attempts.annotate(session, machine.attempt_id, voicemail_at=now())
                settle_call(session, machine.attempt_id)
            left += 1
    return left
