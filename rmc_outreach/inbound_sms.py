"""Texts patients send us: opt-out and opt-in keywords, help, and replies asking for a call.

- STOP, STOPALL, UNSUBSCRIBE, CANCEL, END, QUIT, REVOKE, OPTOUT: the SMS opt-out is written in the
  webhook's own transaction, before the response goes back, so no text can follow it.
- START, YES, UNSTOP: texts may be sent again (also in the request).
- HELP, INFO: a help reply, nothing else.
- CALL or anything else: applied by the task: the patient is reached (by SMS), every channel
  stops, and a handler is asked to call back.

Numbers are matched to patients by mobile number. When none or several patients have it the
reply still becomes a callback request, with no referral: we never guess who wrote.

No text goes back to the mobile of landline-only patients (every patient with that mobile asked
for it): what they sent is acted on as for anyone, only the reply text is left out.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, cast

from sqlalchemy import CursorResult, select, update
from sqlalchemy.orm import Session

from rmc_outreach.audit import record_audit_event
from rmc_outreach.clock import now
from rmc_outreach.events import EventKind, StoredEvent, mark_processed, record_event
from rmc_outreach.messages import PublicContext, render_sms
from rmc_outreach.models import CallbackRequest, Channel, Patient, Referral
from rmc_outreach.progress import open_referral_ids_of, reach

log = logging.getLogger(__name__)

STOP_WORDS = frozenset(
    {"STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "REVOKE", "OPTOUT"}
)
START_WORDS = frozenset({"START", "YES", "UNSTOP"})
HELP_WORDS = frozenset({"HELP", "INFO"})
_EDGE_PUNCTUATION = re.compile(r"^[\W_]+|[\W_]+$")


class Keyword(StrEnum):
    """What an inbound text asks for."""

    STOP = "stop"
    START = "start"
    HELP = "help"
    REPLY = "reply"  # CALL or free text: ring me


def classify(body: str) -> Keyword:
    """The keyword of a text: the whole message, case and surrounding punctuation ignored."""
    word = _EDGE_PUNCTUATION.sub("", body.strip()).upper()
    if word in STOP_WORDS:
        return Keyword.STOP
    if word in START_WORDS:
        return Keyword.START
    if word in HELP_WORDS:
        return Keyword.HELP
    return Keyword.REPLY


REPLY_TEMPLATES = {
    Keyword.STOP: "opted_out",
    Keyword.START: "opted_in",
    Keyword.HELP: "help",
    Keyword.REPLY: "callback_confirmed",
}


@dataclass(frozen=True)
class InboundResult:
    """What the webhook answers and whether a task must apply the rest."""

    reply: str | None
    event_id: int | None
    needs_task: bool


def receive(session: Session, payload: dict[str, Any], context: PublicContext) -> InboundResult:
    """Store an inbound text once and act on opt-out/opt-in/help at once (in this transaction).

    A replay (same MessageSid) changes nothing and gets no reply.
    """
    message_sid = str(payload.get("MessageSid") or payload.get("SmsSid") or "")
    number = str(payload.get("From") or "")
    keyword = classify(str(payload.get("Body") or ""))
    event_id = record_event(
        session,
        event_key=f"sms-in:{message_sid}",
        kind=EventKind.SMS_INBOUND,
        payload=payload,
        provider_sid=message_sid or None,
    )
    if event_id is None:
        return InboundResult(None, None, needs_task=False)
    if keyword is Keyword.STOP:
        set_sms_opt_out(session, number, opted_out=True, source="sms_stop")
    elif keyword is Keyword.START:
        set_sms_opt_out(session, number, opted_out=False, source="sms_start")
    if keyword is not Keyword.REPLY:
        mark_processed(session, event_id)
        log.info("inbound sms %s: %s", event_id, keyword)
    reply = None
    if landline_only_number(session, number):
        log.info("inbound sms %s: no reply text (landline only)", event_id)
    else:
        reply = render_sms(REPLY_TEMPLATES[keyword], context)
    return InboundResult(reply, event_id, needs_task=keyword is Keyword.REPLY)


def landline_only_number(session: Session, number: str) -> bool:
    """Whether ``number`` is the mobile of landline-only patients only (at least one): a number
    we must not text."""
    if not number:
        return False
    flags = session.scalars(select(Patient.landline_only).where(Patient.mobile_phone == number))
    found = list(flags)
    return bool(found) and all(found)


def set_sms_opt_out(
    session: Session,
    number: str,
    *,
    opted_out: bool,
    source: str,
    actor_label: str = "patient by sms",
) -> int:
    """Opt every patient with this mobile out of (or back into) texts; returns how many changed.

    Opting out more patients than wrote is the safe direction; each change is audited.
    """
    if not number:
        return 0
    condition = (
        Patient.sms_opted_out_at.is_(None) if opted_out else Patient.sms_opted_out_at.is_not(None)
    )
    result = session.execute(
        update(Patient)
        .where(Patient.mobile_phone == number, condition)
        .values(
            sms_opted_out_at=now() if opted_out else None,
            sms_opt_out_source=source,
        )
        .returning(Patient.id)
    )
    patient_ids = list(cast(CursorResult[Any], result).scalars())
    for patient_id in patient_ids:
        record_audit_event(
            session,
            actor_label=actor_label,
            action="sms_opt_out" if opted_out else "sms_opt_in",
            outcome="recorded",
            object_type="patient",
            object_id=patient_id,
            detail={"source": source},
        )
    return len(patient_ids)


def apply_reply(session: Session, event: StoredEvent) -> None:
    """CALL or free text: the writer is reached and a handler asked to ring back."""
    number = str(event.payload.get("From") or "")
    patient_ids = list(session.scalars(select(Patient.id).where(Patient.mobile_phone == number)))
    if len(patient_ids) != 1:
        reason = "sms_reply_unmatched" if not patient_ids else "sms_reply_ambiguous"
        _callback(session, None, reason, number)
        log.info("inbound sms %s: %s number, callback without referral", event.id, reason)
        return
    referral_ids = open_referral_ids_of(session, patient_ids)
    for referral_id in referral_ids:
        reach(session, referral_id, Channel.SMS, at=event.received_at)
        _callback(session, referral_id, "sms_reply", number)
    if not referral_ids:
        latest = session.scalars(
            select(Referral.id)
            .where(Referral.patient_id == patient_ids[0])
            .order_by(Referral.created_at.desc(), Referral.id.desc())
        ).first()
        _callback(session, latest, "sms_reply", number)
    log.info("inbound sms %s: %s referral(s) reached", event.id, len(referral_ids))


def _callback(session: Session, referral_id: int | None, reason: str, number: str) -> None:
    session.add(
        CallbackRequest(
            referral_id=referral_id,
            reason=reason,
            phone=number or None,
            created_at=now(),
            due_at=now(),
        )
    )
