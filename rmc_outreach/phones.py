"""UK phone numbers: normalise to E.164, classify (mobile or voice only), refuse the rest.

Accepted: UK numbers (+44, including the Channel Islands and the Isle of Man) that are mobiles
(SMS and voice) or geographic, VoIP and 03 numbers (voice only). Refused, with a reason: emergency
and service short codes (999, 112, 111, ...), premium rate (09), personal numbering (070), pagers,
shared-cost and freephone numbers, anything invalid, and numbers outside the UK. Ofcom's drama
ranges are fictional: accepted for development and tests, refused in production.

Speed: ``phonenumbers.parse`` plus ``number_type`` costs about 100 µs a number. Well-formed input
(digits with spaces, dashes, dots, brackets, ``+44``, ``0044`` or ``(0)``) is reduced to its
national significant number here, and GB numbers are classified with the library's own GB metadata
patterns in the same order as ``phonenumbers`` itself (a few µs); only other +44 regions and odd
input take the library's full path. Reasons never repeat the number itself.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum
from functools import lru_cache

import phonenumbers
from phonenumbers import PhoneMetadata, PhoneNumber, PhoneNumberType

UK_COUNTRY_CODE = 44
MAX_RAW_LENGTH = 40

# Ofcom's numbers reserved for TV and radio drama: 7-digit prefixes of the national significant
# number, each followed by 3 free digits (1,000 numbers per range).
DRAMA_MOBILE_PREFIXES = frozenset({"7700900"})
DRAMA_LANDLINE_PREFIXES = frozenset(
    {
        "1632960",  # fictional area 01632
        "2079460",  # London 020 7946 0xxx
        "1134960",  # Leeds
        "1144960",  # Sheffield
        "1154960",  # Nottingham
        "1164960",  # Leicester
        "1174960",  # Bristol
        "1184960",  # Reading
        "1214960",  # Birmingham
        "1314960",  # Edinburgh
        "1414960",  # Glasgow
        "1514960",  # Liverpool
        "1614960",  # Manchester
        "1914980",  # Tyneside, Durham and Sunderland
        "2896496",  # Northern Ireland 028 9649 6xxx
        "2920180",  # Cardiff 029 2018 0xxx
    }
)

EMERGENCY_AND_SERVICE_NUMBERS = frozenset({"999", "112", "111", "101", "105", "119"})

_LETTERS = re.compile(r"[^\W\d_]")
_FORMATTING = re.compile(r"[\s.\-/]+")
# After formatting is removed: an optional international prefix, an optional "(0)", digits and
# at most one bracketed area code.
_SIMPLE_SHAPE = re.compile(r"^(\+44|0044)?(?:\(0\))?(?:\(?(\d+)\)?)(\d*)$")


class PhoneKind(StrEnum):
    """What a number can be used for."""

    MOBILE = "mobile"  # voice and SMS
    LANDLINE = "landline"  # voice only


@dataclass(frozen=True, slots=True)
class UkPhone:
    """A normalised UK number: E.164 form, kind, and whether it is an Ofcom drama number."""

    e164: str
    kind: PhoneKind
    fictional: bool

    @property
    def sms_capable(self) -> bool:
        """True for mobiles: the only numbers we text."""
        return self.kind is PhoneKind.MOBILE


class InvalidPhoneNumber(ValueError):
    """A number we refuse; ``reason`` says why, for a person to read (without the number)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


_REFUSED_TYPES: dict[int, str] = {
    PhoneNumberType.PREMIUM_RATE: "is a premium-rate or service number (09, 084, 087)",
    PhoneNumberType.PERSONAL_NUMBER: "is a personal number (070), which can cost callers a lot",
    PhoneNumberType.PAGER: "is a pager number, which cannot take calls or texts",
    PhoneNumberType.SHARED_COST: "is a shared-cost service number",
    PhoneNumberType.TOLL_FREE: "is a freephone service number (080), not a patient's phone",
    PhoneNumberType.VOICEMAIL: "is a voicemail access number",
}
# 03 numbers (UAN) are charged like geographic numbers: ordinary voice numbers.
_VOICE_TYPES = frozenset(
    {
        PhoneNumberType.FIXED_LINE,
        PhoneNumberType.FIXED_LINE_OR_MOBILE,
        PhoneNumberType.VOIP,
        PhoneNumberType.UAN,
    }
)


class _GbClassifier:
    """``phonenumbers``' own type rules for GB numbers, with the patterns compiled once."""

    _ORDER = (
        ("premium_rate", PhoneNumberType.PREMIUM_RATE),
        ("toll_free", PhoneNumberType.TOLL_FREE),
        ("shared_cost", PhoneNumberType.SHARED_COST),
        ("voip", PhoneNumberType.VOIP),
        ("personal_number", PhoneNumberType.PERSONAL_NUMBER),
        ("pager", PhoneNumberType.PAGER),
        ("uan", PhoneNumberType.UAN),
        ("voicemail", PhoneNumberType.VOICEMAIL),
    )

    def __init__(self) -> None:
        metadata = PhoneMetadata.metadata_for_region("GB")
        if metadata is None:  # pragma: no cover - the library always ships GB
            raise RuntimeError("phonenumbers has no GB metadata")
        self._same_mobile_and_fixed = bool(metadata.same_mobile_and_fixed_line_pattern)
        self._general = self._desc(metadata.general_desc)
        self._ordered = [(self._desc(getattr(metadata, name)), kind) for name, kind in self._ORDER]
        self._fixed = self._desc(metadata.fixed_line)
        self._mobile = self._desc(metadata.mobile)

    @staticmethod
    def _desc(desc: object) -> tuple[frozenset[int], re.Pattern[str]] | None:
        pattern = getattr(desc, "national_number_pattern", None)
        if desc is None or not pattern:
            return None
        lengths = frozenset(getattr(desc, "possible_length", ()) or ())
        return lengths, re.compile(pattern)

    @staticmethod
    def _matches(nsn: str, desc: tuple[frozenset[int], re.Pattern[str]] | None) -> bool:
        if desc is None:
            return False
        lengths, pattern = desc
        if lengths and len(nsn) not in lengths:
            return False
        return pattern.fullmatch(nsn) is not None

    def number_type(self, nsn: str) -> int:
        """The ``PhoneNumberType`` of a GB national significant number (UNKNOWN if not GB)."""
        if not self._matches(nsn, self._general):
            return PhoneNumberType.UNKNOWN
        for desc, kind in self._ordered:
            if self._matches(nsn, desc):
                return kind
        if self._matches(nsn, self._fixed):
            return (
                PhoneNumberType.FIXED_LINE_OR_MOBILE
                if (self._same_mobile_and_fixed or self._matches(nsn, self._mobile))
                else PhoneNumberType.FIXED_LINE
            )
        if not self._same_mobile_and_fixed and self._matches(nsn, self._mobile):
            return PhoneNumberType.MOBILE
        return PhoneNumberType.UNKNOWN


_GB = _GbClassifier()


def _national_significant_number(raw: str) -> str:
    """The digits after +44 / the trunk 0, or raise InvalidPhoneNumber."""
    compact = _FORMATTING.sub("", raw)
    shape = _SIMPLE_SHAPE.match(compact)
    if shape is not None:
        international, head, tail = shape.groups()
        digits = head + tail
        if international:
            # "+44 07700 ..." is a common slip: drop the trunk 0 as phonenumbers does.
            return digits[1:] if digits.startswith("0") else digits
        if digits.startswith("00"):
            raise InvalidPhoneNumber("is not a UK number (only +44 numbers are accepted)")
        if digits.startswith("0"):
            return digits[1:]
        if digits in EMERGENCY_AND_SERVICE_NUMBERS or len(digits) <= 6:
            return digits
        # Spreadsheets drop the leading 0 of "07700 900123"; a 10-digit national number is
        # unambiguous, and a 12-digit one starting 44 is an international number without its +.
        if len(digits) == 12 and digits.startswith("44"):
            return digits[2:]
        return digits
    return _parse_with_library(raw)


def _parse_with_library(raw: str) -> str:
    try:
        parsed = phonenumbers.parse(raw, "GB")
    except phonenumbers.NumberParseException:
        raise InvalidPhoneNumber("is not a phone number we can read") from None
    if parsed.country_code != UK_COUNTRY_CODE:
        raise InvalidPhoneNumber("is not a UK number (only +44 numbers are accepted)")
    return phonenumbers.national_significant_number(parsed)


@lru_cache(maxsize=8192)
def _classify(nsn: str) -> int:
    number_type = _GB.number_type(nsn)
    if number_type == PhoneNumberType.UNKNOWN:
        # Guernsey, Jersey and the Isle of Man share +44 with their own metadata.
        number_type = phonenumbers.number_type(
            PhoneNumber(country_code=UK_COUNTRY_CODE, national_number=int(nsn))
        )
    return int(number_type)


def normalise_phone(raw: str, *, allow_fictional: bool) -> UkPhone:
    """Normalise a UK phone number typed in any common way to E.164 and classify it.

    ``allow_fictional`` accepts Ofcom drama numbers (development and tests); production passes
    False. Raises ``InvalidPhoneNumber`` (a ``ValueError``) with a reason for anything refused.
    """
    compact = raw.replace(" ", "")
    if (
        len(compact) == 11
        and compact[0] == "0"
        and compact[1] != "0"
        and compact.isascii()
        and compact.isdigit()
    ):
        nsn = compact[1:]  # the usual "07700 900123" shape: no parsing needed
    else:
        nsn = _parse_national_significant_number(raw)
    return _classified(nsn, allow_fictional=allow_fictional)


def _parse_national_significant_number(raw: str) -> str:
    text = raw.strip()
    if not text:
        raise InvalidPhoneNumber("is empty")
    if len(text) > MAX_RAW_LENGTH:
        raise InvalidPhoneNumber(f"is longer than {MAX_RAW_LENGTH} characters")
    if _LETTERS.search(text):
        raise InvalidPhoneNumber("contains letters (extensions and words are not accepted)")
    nsn = _national_significant_number(text)
    if not (nsn.isascii() and nsn.isdigit()):
        raise InvalidPhoneNumber("is not a phone number we can read")
    if nsn in EMERGENCY_AND_SERVICE_NUMBERS:
        raise InvalidPhoneNumber("is an emergency or service number, not a patient's phone")
    if len(nsn) <= 6:
        raise InvalidPhoneNumber("is a short code, not a full UK phone number")
    return nsn


def _classified(nsn: str, *, allow_fictional: bool) -> UkPhone:
    if nsn.startswith("0"):
        raise InvalidPhoneNumber("is not a valid UK phone number")
    if len(nsn) == 10:
        prefix = nsn[:7]
        fictional_kind = (
            PhoneKind.MOBILE
            if prefix in DRAMA_MOBILE_PREFIXES
            else PhoneKind.LANDLINE
            if prefix in DRAMA_LANDLINE_PREFIXES
            else None
        )
        if fictional_kind is not None:
            if not allow_fictional:
                raise InvalidPhoneNumber("is a fictional Ofcom drama number, refused in production")
            return UkPhone("+44" + nsn, fictional_kind, fictional=True)
    if not 9 <= len(nsn) <= 10:
        raise InvalidPhoneNumber("has the wrong number of digits for a UK phone number")
    number_type = _classify(nsn)
    if number_type == PhoneNumberType.MOBILE:
        return UkPhone("+44" + nsn, PhoneKind.MOBILE, fictional=False)
    if number_type in _VOICE_TYPES:
        return UkPhone("+44" + nsn, PhoneKind.LANDLINE, fictional=False)
    reason = _REFUSED_TYPES.get(number_type)
    raise InvalidPhoneNumber(reason or "is not a valid UK phone number")


def is_fictional(e164: str) -> bool:
    """True for an E.164 number in one of Ofcom's drama ranges."""
    if not e164.startswith("+44") or len(e164) != 13:
        return False
    prefix = e164[3:10]
    return prefix in DRAMA_MOBILE_PREFIXES or prefix in DRAMA_LANDLINE_PREFIXES


def _national_groups(national: str) -> list[str]:
    """Split a national number (with its 0) into the groups people write."""
    if len(national) != 11:
        return [national]
    if national.startswith("07"):
        return [national[:5], national[5:8], national[8:]]
    if national.startswith("02"):
        return [national[:3], national[3:7], national[7:]]
    if national[:3] in ("011", "030", "033", "034", "037", "080", "084", "087", "090", "091"):
        return [national[:4], national[4:7], national[7:]]
    if national.startswith("01") and national[3] == "1":
        return [national[:4], national[4:7], national[7:]]
    return [national[:5], national[5:]]


def format_national(e164: str) -> str:
    """A +44 number the way it is written in the UK, e.g. ``07700 900 123``."""
    if not e164.startswith("+44"):
        return e164
    return " ".join(_national_groups("0" + e164[3:]))


def mask_phone(e164: str) -> str:
    """A number with its middle hidden: the dialling prefix and last two digits stay visible.

    ``mask_phone("+447700900123") == "07700 9•• •23"``.
    """
    if not e164.startswith("+44") or not e164[1:].isdigit():
        tail = "".join(character for character in e164 if character.isdigit())[-2:]
        return "•••" + tail
    groups = _national_groups("0" + e164[3:])
    total = sum(len(group) for group in groups)
    position = 0
    masked_groups = []
    for group in groups:
        characters = []
        for character in group:
            keep = position < 6 or position >= total - 2
            characters.append(character if keep else "•")
            position += 1
        masked_groups.append("".join(characters))
    return " ".join(masked_groups)
