"""What Twilio enforces beyond its spec, and Twilio-shaped errors for every refusal.

The spec marks some rules only in ``x-twilio.conditional`` or in description text; Twilio enforces
them all (see ``shared/twilio/README.md``): a call needs ``Url``, ``Twiml`` or ``ApplicationSid``;
a message needs ``From`` or ``MessagingServiceSid`` and one of ``Body``/``MediaUrl``/``ContentSid``;
a call's ``To`` is an E.164 number, ``client:<identity>`` (letters, digits, underscores, at most
121: Twilio's rule for client identities) or a ``sip:`` URI; ``MachineDetection`` is ``Enable``
or ``DetectMessageEnd``; ``AsyncAmd`` is the string ``true`` or
``false`` (the SDK sends ``True`` for a Python bool, which Twilio does not accept); each
``StatusCallbackEvent`` is ``initiated``, ``ringing``, ``answered`` or ``completed``; ``Timeout``
is at most 600; ``Twiml`` at most 4,000 characters and a ``<Response>`` document; ``Body`` at
most 1,600.

One rule is stricter than Twilio, on purpose: a parameter the spec does not define is refused.
Twilio silently ignores it, which would hide a misspelt parameter in our own code.

Codes follow Twilio's error dictionary: 21201 no To (calls), 21604 no To (messages), 21211 invalid
To, 21212 invalid From, 21213 no From, 21603 no From or MessagingServiceSid, 21602 no body,
21617 body too long, 21200 any other problem with a Calls request, 400 any other bad request,
12100 TwiML that does not parse, 21220 a call not in a state to be changed, 20003 bad credentials,
20404 not found, 20429 too many requests. Messages never repeat a submitted value.
"""

from __future__ import annotations

import re
from typing import Any
from xml.etree import ElementTree

from werkzeug.datastructures import MultiDict

from rmc_outreach.simulation.carrier.spec import (
    CREATE_CALL,
    CREATE_MESSAGE,
    E164,
    UPDATE_CALL,
    Operation,
    SpecProblem,
    body_schema,
)

MORE_INFO = "https://www.twilio.com/docs/errors/{code}"
MACHINE_DETECTION_MODES = frozenset({"Enable", "DetectMessageEnd"})
ASYNC_AMD_VALUES = frozenset({"true", "false"})
CALL_PROGRESS_EVENTS = frozenset({"initiated", "ringing", "answered", "completed"})
MAX_TIMEOUT_S = 600
MAX_TWIML_CHARS = 4000
MAX_BODY_CHARS = 1600
MAX_SIP_CHARS = 255
# Twilio Voice SDK client identities: letters, digits and underscores, at most 121 characters.
CLIENT_TO = re.compile(r"^client:[A-Za-z0-9_]{1,121}$")
SIP_TO = re.compile(r"^sips?:[^@\s:;]+@[A-Za-z0-9.-]+(:\d{1,5})?(;\S*)?$")


class TwilioApiError(Exception):
    """A refusal in Twilio's shape: HTTP status, Twilio error code, message."""

    def __init__(self, status: int, code: int, message: str) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status, self.code, self.message = status, code, message

    def body(self) -> dict[str, Any]:
        """The JSON body Twilio returns for an error."""
        return {
            "code": self.code,
            "message": self.message,
            "more_info": MORE_INFO.format(code=self.code),
            "status": self.status,
        }


def bad_request(code: int, message: str) -> TwilioApiError:
    """An HTTP 400 with a Twilio error code."""
    return TwilioApiError(400, code, message)


def not_found(what: str) -> TwilioApiError:
    """HTTP 404, code 20404."""
    return TwilioApiError(404, 20404, f"The requested resource {what} was not found")


def authentication_failed() -> TwilioApiError:
    """HTTP 401, code 20003."""
    return TwilioApiError(401, 20003, "Authenticate")


def too_many_requests() -> TwilioApiError:
    """HTTP 429, code 20429: not processed, safe to retry."""
    return TwilioApiError(429, 20429, "Too Many Requests")


_SPEC_CODES: dict[tuple[str, str, str], tuple[int, str]] = {
    # (operation, field, kind) -> (code, message); kind "*" matches any kind.
    ("create_call", "To", "required"): (21201, "No 'To' number is specified"),
    ("create_call", "From", "required"): (21213, "No 'From' number is specified"),
    ("create_message", "To", "required"): (21604, "A 'To' phone number is required"),
    ("create_message", "To", "*"): (21211, "The 'To' number is not a valid phone number"),
    ("create_message", "From", "*"): (21212, "The 'From' number is not a valid phone number"),
    ("list_calls", "To", "*"): (21211, "The 'To' number is not a valid phone number"),
}


def error_for_spec_problems(operation: Operation, problems: list[SpecProblem]) -> TwilioApiError:
    """The Twilio error for the first problem (path problems mean an unknown resource: 404)."""
    first = problems[0]
    if first.location == "path":
        return not_found(f"({first.field} does not match the expected pattern)")
    for kind in (first.kind, "*"):
        known = _SPEC_CODES.get((operation.name, first.field, kind))
        if known is not None:
            return bad_request(*known)
    generic = 21200 if operation.name.endswith("_call") else 400
    return bad_request(generic, "Invalid request: " + "; ".join(p.describe() for p in problems))


def _unknown_parameters(operation: Operation, form: MultiDict[str, str]) -> list[str]:
    schema = body_schema(operation) or {}
    known = set(schema.get("properties", {}))
    return sorted(key for key in form if key not in known)


def _is_phone_like(value: str) -> bool:
    return ":" not in value  # sip:, client: and channel addresses are not phone numbers


def _valid_call_to(to: str) -> bool:
    """A call's ``To``: an E.164 number, ``client:<identity>`` or a SIP URI."""
    lowered = to.lower()
    if lowered.startswith("client:"):
        return bool(CLIENT_TO.match(to))
    if lowered.startswith(("sip:", "sips:")):
        return len(to) <= MAX_SIP_CHARS and bool(SIP_TO.match(to))
    return bool(E164.match(to))


def _check_twiml(twiml: str) -> TwilioApiError | None:
    if len(twiml) > MAX_TWIML_CHARS:
        return bad_request(21200, f"Twiml is longer than {MAX_TWIML_CHARS} characters")
    try:
        root = ElementTree.fromstring(twiml)  # noqa: S314 (our own app's TwiML, loopback only)
    except ElementTree.ParseError:
        return bad_request(12100, "Document parse failure: Twiml is not well-formed XML")
    if root.tag != "Response":
        return bad_request(12100, "Document parse failure: the root element must be <Response>")
    return None


def _check_create_call(form: MultiDict[str, str]) -> TwilioApiError | None:
    to, sender = form.get("To", ""), form.get("From", "")
    mode, asynchronous = form.get("MachineDetection"), form.get("AsyncAmd")
    timeout = form.get("Timeout")  # the spec has made sure it is a whole number
    rules = (
        (not _valid_call_to(to), 21211, "The 'To' number is not valid"),
        (
            _is_phone_like(sender) and not E164.match(sender),
            21212,
            "The 'From' number is not valid",
        ),
        (
            not any(form.get(name) for name in ("Url", "Twiml", "ApplicationSid")),
            21200,
            "One of Url, Twiml or ApplicationSid is required",
        ),
        (
            mode is not None and mode not in MACHINE_DETECTION_MODES,
            21200,
            "MachineDetection must be Enable or DetectMessageEnd",
        ),
        (
            asynchronous is not None and asynchronous not in ASYNC_AMD_VALUES,
            21200,
            "AsyncAmd must be the string 'true' or 'false'",
        ),
        (
            any(e not in CALL_PROGRESS_EVENTS for e in form.getlist("StatusCallbackEvent")),
            21200,
            "StatusCallbackEvent values are initiated, ringing, answered, completed",
        ),
        (
            timeout is not None and not 0 < int(timeout) <= MAX_TIMEOUT_S,
            21200,
            f"Timeout must be between 1 and {MAX_TIMEOUT_S} seconds",
        ),
    )
    for broken, code, message in rules:
        if broken:
            return bad_request(code, message)
    twiml = form.get("Twiml")
    return _check_twiml(twiml) if twiml and not form.get("Url") else None


def _check_update_call(form: MultiDict[str, str]) -> TwilioApiError | None:
    if not any(form.get(name) for name in ("Url", "Twiml", "Status", "TimeLimit")):
        return bad_request(21200, "Nothing to update: give Url, Twiml or Status")
    twiml = form.get("Twiml")
    return _check_twiml(twiml) if twiml and not form.get("Url") else None


def _check_create_message(form: MultiDict[str, str]) -> TwilioApiError | None:
    if not (form.get("From") or form.get("MessagingServiceSid")):
        return bad_request(21603, "A 'From' phone number or MessagingServiceSid is required")
    if not any(form.get(name) for name in ("Body", "MediaUrl", "ContentSid")):
        return bad_request(21602, "Message body is required")
    if len(form.get("Body", "")) > MAX_BODY_CHARS:
        return bad_request(
            21617, f"The concatenated message body exceeds the {MAX_BODY_CHARS} character limit"
        )
    return None


def check_twilio_rules(operation: Operation, form: MultiDict[str, str]) -> TwilioApiError | None:
    """The first rule Twilio enforces beyond the spec that this (spec-valid) request breaks."""
    unknown = _unknown_parameters(operation, form)
    if unknown:
        generic = 21200 if operation.name.endswith("_call") else 400
        return bad_request(generic, "Unknown parameters: " + ", ".join(unknown))
    if operation == CREATE_CALL:
        return _check_create_call(form)
    if operation == UPDATE_CALL:
        return _check_update_call(form)
    if operation == CREATE_MESSAGE:
        return _check_create_message(form)
    return None
