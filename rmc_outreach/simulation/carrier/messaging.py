"""SMS: create and fetch, delivery callbacks, people texting back, and Twilio's own opt-out block.

A created message is ``queued`` (``accepted`` when sent through a Messaging Service); Twilio posts
no callback for that first status. Then ``sent`` and ``delivered`` (or ``undelivered`` with 30003,
30005 or 30006 for a dead number) to the message's ``StatusCallback``. Refused at create: 21614 for
a UK landline (not SMS-capable), 21610 when the recipient texted STOP to that sender and not START
since, just as Twilio blocks the pair itself.

Replies are posted as Twilio posts inbound SMS, to ``PUBLIC_BASE_URL`` + ``/twilio/sms/inbound``,
signed, with ``MessageSid, AccountSid, From, To, Body, NumSegments, SmsStatus=received, ...``.
"""

from __future__ import annotations

import logging

from werkzeug.datastructures import MultiDict

from rmc_outreach import clock
from rmc_outreach.messages import sms_segments
from rmc_outreach.simulation.carrier.ledger import text_fingerprint
from rmc_outreach.simulation.carrier.population import SmsPlan
from rmc_outreach.simulation.carrier.resources import (
    API_VERSION,
    SimMessage,
    attempt_id_from,
    new_sid,
)
from rmc_outreach.simulation.carrier.rules import bad_request, not_found
from rmc_outreach.simulation.carrier.state import Carrier
from rmc_outreach.simulation.carrier.webhooks import WebhookReply
from rmc_outreach.telephony.urls import WebhookUrls

log = logging.getLogger(__name__)

OPT_OUT_KEYWORDS = frozenset(
    {"STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "REVOKE", "OPTOUT"}
)
OPT_IN_KEYWORDS = frozenset({"START", "YES", "UNSTOP"})
HELP_KEYWORDS = frozenset({"HELP", "INFO"})
# UK numbers that cannot take SMS: geographic (01, 02) and non-geographic (03) ranges.
LANDLINE_PREFIXES = ("+441", "+442", "+443")


def reply_kind(body: str) -> str:
    """How Twilio's keyword handling reads an inbound text: stop, start, help or text."""
    word = body.strip().upper()
    if word in OPT_OUT_KEYWORDS:
        return "stop"
    if word in OPT_IN_KEYWORDS:
        return "start"
    if word in HELP_KEYWORDS:
        return "help"
    return "text"


def create_message(carrier: Carrier, account_sid: str, form: MultiDict[str, str]) -> SimMessage:
    """Accept a (valid) Create Message request, or refuse it as Twilio would."""
    to = form["To"]
    sender = form.get("From")
    service = form.get("MessagingServiceSid")
    if to.startswith(LANDLINE_PREFIXES):
        raise bad_request(21614, "'To' number is not a valid mobile number")
    with carrier.lock:
        blocked = (sender or service or "", to) in carrier.blocked
    if blocked:
        raise bad_request(21610, "Attempt to send to unsubscribed recipient")
    body = form.get("Body", "")
    message = SimMessage(
        sid=new_sid("SM"),
        account_sid=account_sid,
        to=to,
        sender=sender,
        messaging_service_sid=service,
        body=body,
        segments=max(1, sms_segments(body).segments),
        status_callback=form.get("StatusCallback"),
        created_at=clock.now(),
        attempt_id=attempt_id_from(form.get("StatusCallback")),
        status="queued" if sender else "accepted",
    )
    with carrier.lock:
        carrier.messages[message.sid] = message
        index = carrier.messages_per_number[to]
        carrier.messages_per_number[to] += 1
    plan = carrier.population.plan_sms(to, index)
    carrier.scheduler.call_later(plan.sent_after_s, lambda: _sent(carrier, message, plan))
    return message


def find_message(carrier: Carrier, sid: str) -> SimMessage:
    """The message with this SID, or a Twilio 404."""
    with carrier.lock:
        message = carrier.messages.get(sid)
    if message is None:
        raise not_found(f"/Messages/{sid}.json")
    return message


def _status_callback(carrier: Carrier, message: SimMessage) -> None:
    if not message.status_callback:
        return
    params = {
        "AccountSid": message.account_sid,
        "ApiVersion": API_VERSION,
        "From": message.sender or "",
        "MessageSid": message.sid,
        "MessageStatus": message.status,
        "SmsSid": message.sid,
        "SmsStatus": message.status,
        "To": message.to,
    }
    if message.messaging_service_sid:
        params["MessagingServiceSid"] = message.messaging_service_sid
    if message.error_code is not None:
        params["ErrorCode"] = str(message.error_code)
    carrier.webhooks.send(message.status_callback, params, purpose=f"sms_status:{message.status}")


def _set_status(carrier: Carrier, message: SimMessage, status: str, error: int | None) -> None:
    with carrier.lock:
        message.status, message.error_code = status, error
        message.updated_at = clock.now()
        if status == "sent":
            message.sent_at = message.updated_at


def _sent(carrier: Carrier, message: SimMessage, plan: SmsPlan) -> None:
    _set_status(carrier, message, "sent", None)
    _status_callback(carrier, message)
    carrier.scheduler.call_later(plan.delivered_after_s, lambda: _delivered(carrier, message, plan))


def _delivered(carrier: Carrier, message: SimMessage, plan: SmsPlan) -> None:
    status = "delivered" if plan.delivered else "undelivered"
    _set_status(carrier, message, status, plan.error_code)
    carrier.ledger.record(
        "message",
        sid=message.sid,
        attempt_id=message.attempt_id,
        to=message.to,
        **{"from": message.sender},
        status=status,
        error_code=plan.error_code,
        segments=message.segments,
        body_chars=len(message.body),
    )
    _status_callback(carrier, message)
    if plan.delivered and plan.reply_kind:
        reply_to = message.sender or carrier.settings.sms_from or ""
        carrier.scheduler.call_later(
            plan.reply_after_s,
            lambda: _reply(carrier, message.to, reply_to, plan.reply_text, plan),
        )


def _reply(carrier: Carrier, person: str, our_number: str, text: str, plan: SmsPlan) -> None:
    send_inbound_sms(carrier, person, our_number, text, reply=plan.reply_kind)
    if plan.start_after_stop_s is not None:

        def opt_back_in() -> None:
            send_inbound_sms(carrier, person, our_number, "START", reply="start")

        carrier.scheduler.call_later(plan.start_after_stop_s, opt_back_in)


def send_inbound_sms(
    carrier: Carrier, sender: str, to: str, body: str, *, reply: str | None = None
) -> WebhookReply:
    """A person texts our number: apply Twilio's keyword block, then post the inbound webhook."""
    kind = reply_kind(body)
    with carrier.lock:
        if kind == "stop":
            carrier.blocked.add((to, sender))
        elif kind == "start":
            carrier.blocked.discard((to, sender))
    sid = new_sid("SM")
    params = {
        "AccountSid": carrier.settings.account_sid,
        "ApiVersion": API_VERSION,
        "Body": body,
        "From": sender,
        "FromCountry": "GB",
        "MessageSid": sid,
        "NumMedia": "0",
        "NumSegments": str(max(1, sms_segments(body).segments)),
        "SmsMessageSid": sid,
        "SmsSid": sid,
        "SmsStatus": "received",
        "To": to,
        "ToCountry": "GB",
    }
    url = WebhookUrls(carrier.settings.public_base_url).sms_inbound()
    result = carrier.webhooks.send(url, params, purpose="sms_inbound")
    carrier.ledger.record(
        "sms_reply",
        message_sid=sid,
        **{"from": sender},
        to=to,
        reply=reply or kind,
        keyword=kind,
        body_chars=len(body),
        body_sha256=text_fingerprint(body),
        webhook_status=result.status,
    )
    return result
