"""Every word a patient hears or reads, rendered from ``message_templates/`` by name.

Voice and SMS templates are rendered with a ``PublicContext`` only: it holds who is calling and how
to call back, and no patient field at all, so a voicemail or text cannot carry a name, an NHS
number or any clinical detail, whoever hears or reads it. Templates use Jinja2 with
``StrictUndefined``: a missing variable is an error, never a blank.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from functools import lru_cache
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, StrictUndefined

from rmc_outreach.config import PROJECT_ROOT

TEMPLATE_ROOT = PROJECT_ROOT / "message_templates"
CHANNEL_FOLDERS = ("sms", "voice")
MAX_SMS_SEGMENTS = 2

# GSM 03.38 default alphabet (one septet each) and its extension table (two septets each).
GSM7_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM7_EXTENDED = frozenset("^{}\\[~]|€\f")


@dataclass(frozen=True)
class PublicContext:
    """What may be said to anyone who answers the phone or reads the text: no patient data."""

    service_name: str
    booking_number: str
    booking_number_spoken: str
    opening_hours: str
    opening_hours_spoken: str


def spoken_number(number: str) -> str:
    """A UK phone number read digit by digit in groups, e.g. '0 1 6 3 2, 9 6 0, 0 0 0'."""
    digits = re.sub(r"\D", "", number)
    if number.strip().startswith("+44"):
        digits = "0" + digits[2:]
    groups = [digits]
    if len(digits) == 11:
        if digits.startswith("02"):
            sizes = (3, 4, 4)  # 020 7946 0123
        elif re.match(r"0(1\d1|11\d|3|8|9)", digits):
            sizes = (4, 3, 4)  # 0113 496 0123, 0300 123 4567
        else:
            sizes = (5, 3, 3)  # 01632 960 000, 07700 900 123
        groups = [digits[: sizes[0]], digits[sizes[0] : -sizes[2]], digits[-sizes[2] :]]
    return ", ".join(" ".join(group) for group in groups if group)


def default_public_context(booking_number: str = "01632 960000") -> PublicContext:
    """The context used when the centre has configured nothing else."""
    return PublicContext(
        service_name="NHS referral booking service",
        booking_number=booking_number,
        booking_number_spoken=spoken_number(booking_number),
        opening_hours="Mon-Fri 8am-6pm",
        opening_hours_spoken="Monday to Friday, 8 am to 6 pm",
    )


@lru_cache(maxsize=1)
def _environment() -> Environment:
    return Environment(
        loader=FileSystemLoader(str(TEMPLATE_ROOT)),
        undefined=StrictUndefined,
        # Plain text, never HTML: TwiML is built (and escaped) by the Twilio SDK.
        autoescape=False,  # noqa: S701
        keep_trailing_newline=False,
    )


class MessageTooLongError(ValueError):
    """An SMS would take more segments than allowed."""


def template_names(channel: str) -> list[str]:
    """Names (without extension) of every template for a channel ('sms' or 'voice')."""
    if channel not in CHANNEL_FOLDERS:
        raise ValueError(f"unknown channel {channel!r}")
    return sorted(path.stem for path in (TEMPLATE_ROOT / channel).glob("*.txt"))


def _render(path: Path, context: PublicContext) -> str:
    relative = path.relative_to(TEMPLATE_ROOT).as_posix()
    text = _environment().get_template(relative).render(**asdict(context))
    return " ".join(text.split())


def render_voice(name: str, context: PublicContext) -> str:
    """The words of a voice prompt, on one line."""
    return _render(TEMPLATE_ROOT / "voice" / f"{name}.txt", context)


def render_sms(name: str, context: PublicContext) -> str:
    """An SMS body; raises MessageTooLongError beyond two segments."""
    body = _render(TEMPLATE_ROOT / "sms" / f"{name}.txt", context)
    count = sms_segments(body)
    if count.segments > MAX_SMS_SEGMENTS:
        raise MessageTooLongError(
            f"sms/{name} needs {count.segments} {count.encoding} segments "
            f"(limit {MAX_SMS_SEGMENTS})"
        )
    return body


@dataclass(frozen=True)
class SegmentCount:
    """How an SMS body is encoded and how many parts it is sent in."""

    encoding: str  # "GSM-7" or "UCS-2"
    units: int  # septets for GSM-7, UTF-16 code units for UCS-2
    segments: int


def sms_segments(body: str) -> SegmentCount:
    """Count SMS segments: GSM-7 160 septets (153 per part), else UCS-2 70 (67 per part)."""
    if all(char in GSM7_BASIC or char in GSM7_EXTENDED for char in body):
        units = sum(2 if char in GSM7_EXTENDED else 1 for char in body)
        single, multi, encoding = 160, 153, "GSM-7"
    else:
        units = len(body.encode("utf-16-le")) // 2
        single, multi, encoding = 70, 67, "UCS-2"
    if units == 0:
        return SegmentCount(encoding, 0, 0)
    segments = 1 if units <= single else -(-units // multi)
    return SegmentCount(encoding, units, segments)
