"""Finding referrals: by UBRN, NHS number or name, filtered by status, priority, specialty and
channel, a page at a time.

What is typed decides the lookup, each through an index:

- 12 digits (spaces or hyphens allowed): a UBRN, exact (``referral.ubrn`` is unique);
- 10 digits: an NHS number, exact (``patient.nhs_number`` is unique), then that patient's
  referrals;
- anything else: a name. ``Family`` or ``Given Family`` or ``Family, Given``, each part a prefix,
  case ignored. One word is matched against family names; only when no family name starts with
  it, against given names. Prefixes are byte ranges on ``lower(name)`` indexes
  (``ix_patient_name_search``, ``ix_patient_given_name_search``; COLLATE "C" on PostgreSQL), and
  results come in name order straight from the index, so a common surname costs no sort.

Pages hold ``PAGE_SIZE`` rows; one row more is read to know whether another page follows (no
count of the whole result). SQLite's ``lower()`` folds ASCII letters only, so there a name with
a capital accented letter is found by typing that letter as it is stored.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from enum import StrEnum
from typing import Any, TypeVar

from sqlalchemy import ColumnElement, Select, and_, func, select
from sqlalchemy.orm import InstrumentedAttribute, Session

from rmc_outreach.identifiers import mask_nhs_number, nhs_number_problem
from rmc_outreach.models import Channel, Patient, Priority, Referral, ReferralStatus
from rmc_outreach.skip_scan import distinct_values

PAGE_SIZE = 25
MAX_PAGE = 400
MAX_TEXT = 100
MAX_SPECIALTIES = 500
CHANNEL_ROLES = ("next", "reached")
_E = TypeVar("_E", bound=StrEnum)
_Query = Select[*tuple[Any, ...]]


class SearchKind(StrEnum):
    """What the search text was taken to be."""

    NONE = "none"
    UBRN = "ubrn"
    NHS_NUMBER = "nhs_number"
    NAME = "name"


class SearchError(ValueError):
    """A search that cannot run; ``field`` names the form field, the message says why (and never
    repeats what was typed)."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


@dataclass(frozen=True)
class ReferralSearch:
    """A validated search: the lookup key and the filters, and which page."""

    kind: SearchKind = SearchKind.NONE
    key: str = ""  # digits for UBRN and NHS number; the lower-cased family prefix for a name
    given_prefix: str = ""
    status: ReferralStatus | None = None
    priority: Priority | None = None
    specialty: str | None = None
    channel_role: str | None = None  # "next" (the planned step) or "reached" (who reached them)
    channel: Channel | None = None
    page: int = 1


@dataclass(frozen=True)
class SearchRow:
    """One referral found, masked."""

    referral_id: int
    ubrn: str
    patient_name: str
    masked_nhs_number: str
    date_of_birth: date
    priority: Priority
    status: ReferralStatus
    specialty: str
    referral_date: date
    next_channel: Channel | None
    reached_by: Channel | None
    paused: bool


@dataclass(frozen=True)
class SearchPage:
    """A page of results and whether another follows."""

    rows: list[SearchRow]
    page: int
    has_next: bool
    by_given_name: bool = False  # one word matched no family name: given names were searched


def _enum_choice(enum_class: type[_E], raw: str, field: str) -> _E | None:
    if not raw:
        return None
    try:
        return enum_class(raw)
    except ValueError:
        raise SearchError(field, f"choose a {field} from the list") from None


def _page_number(raw: str) -> int:
    if not raw:
        return 1
    if not raw.isdigit() or not 1 <= int(raw) <= MAX_PAGE:
        raise SearchError("page", f"the page must be a number from 1 to {MAX_PAGE}")
    return int(raw)


def parse_search(args: Mapping[str, str]) -> ReferralSearch:
    """Validate a search from the query string. Raises ``SearchError`` naming the field."""
    raw_text = " ".join(str(args.get("q") or "").split())
    if len(raw_text) > MAX_TEXT:
        raise SearchError("q", f"type at most {MAX_TEXT} characters")
    channel_role, channel = None, None
    raw_channel = str(args.get("channel") or "")
    if raw_channel:
        role, _, value = raw_channel.partition(":")
        if role not in CHANNEL_ROLES:
            raise SearchError("channel", "choose a channel from the list")
        channel_role, channel = role, _enum_choice(Channel, value, "channel")
    specialty = " ".join(str(args.get("specialty") or "").split()) or None
    if specialty is not None and len(specialty) > MAX_TEXT:
        raise SearchError("specialty", "choose a specialty from the list")
    kind, key, given = classify_text(raw_text)
    return ReferralSearch(
        kind=kind,
        key=key,
        given_prefix=given,
        status=_enum_choice(ReferralStatus, str(args.get("status") or ""), "status"),
        priority=_enum_choice(Priority, str(args.get("priority") or ""), "priority"),
        specialty=specialty,
        channel_role=channel_role,
        channel=channel,
        page=_page_number(str(args.get("page") or "")),
    )


def classify_text(raw: str) -> tuple[SearchKind, str, str]:
    """(kind, key, given-name prefix) for what was typed (module docstring)."""
    if not raw:
        return SearchKind.NONE, "", ""
    compact = raw.replace(" ", "").replace("-", "")
    if compact.isascii() and compact.isdigit():
        if len(compact) == 12:
            return SearchKind.UBRN, compact, ""
        if len(compact) == 10:
            if nhs_number_problem(compact, allow_test_range=True) is not None:
                raise SearchError(
                    "q", "that is not a valid NHS number: the check digit does not match"
                )
            return SearchKind.NHS_NUMBER, compact, ""
        raise SearchError("q", "type 12 digits for a UBRN or 10 for an NHS number")
    if any(character.isdigit() for character in raw):
        raise SearchError("q", "search by UBRN (12 digits), NHS number (10 digits) or name")
    if "," in raw:
        family, _, given = raw.partition(",")
    else:
        words = raw.split(" ")
        given, family = (" ".join(words[:-1]), words[-1]) if len(words) > 1 else ("", words[0])
    family, given = family.strip().lower(), given.strip().lower()
    if not family:
        raise SearchError("q", "type a family name, or 'given name family name'")
    return SearchKind.NAME, family, given


def _ascii_lower(text_value: str) -> str:
    # SQLite's lower() folds ASCII letters only: the key must be folded the same way.
    return "".join(
        character.lower() if character.isascii() else character for character in text_value
    )


def _next_prefix(prefix: str) -> str:
    """The smallest string greater than every string starting with ``prefix`` (code points,
    which is byte order in UTF-8: COLLATE "C" on PostgreSQL, BINARY on SQLite)."""
    last = ord(prefix[-1]) + 1
    if 0xD800 <= last <= 0xDFFF:
        last = 0xE000
    return prefix[:-1] + chr(last)


class _NameKeys:
    """``lower(name)`` as the name indexes hold it, on this backend."""

    def __init__(self, session: Session) -> None:
        self.postgres = session.get_bind().dialect.name == "postgresql"

    def _key(self, column: InstrumentedAttribute[str]) -> ColumnElement[str]:
        lowered = func.lower(column)
        return lowered.collate("C") if self.postgres else lowered

    @property
    def family(self) -> ColumnElement[str]:
        return self._key(Patient.family_name)

    @property
    def given(self) -> ColumnElement[str]:
        return self._key(Patient.given_name)

    def prefix(self, key: ColumnElement[str], typed: str) -> ColumnElement[bool]:
        folded = typed if self.postgres else _ascii_lower(typed)
        return and_(key >= folded, key < _next_prefix(folded))


def _columns() -> _Query:
    return select(
        Referral.id,
        Referral.ubrn,
        Patient.given_name,
        Patient.family_name,
        Patient.nhs_number,
        Patient.date_of_birth,
        Referral.priority,
        Referral.status,
        Referral.specialty,
        Referral.referral_date,
        Referral.next_channel,
        Referral.reached_by,
        Referral.outreach_paused_at,
    ).join(Patient, Patient.id == Referral.patient_id)


def _filtered(query: _Query, search: ReferralSearch) -> _Query:
    if search.status is not None:
        query = query.where(Referral.status == search.status)
    if search.priority is not None:
        query = query.where(Referral.priority == search.priority)
    if search.specialty is not None:
        query = query.where(Referral.specialty == search.specialty)
    if search.channel is not None:
        column = Referral.next_channel if search.channel_role == "next" else Referral.reached_by
        query = query.where(column == search.channel)
    return query


def _name_query(session: Session, search: ReferralSearch, *, by_given_only: bool) -> _Query:
    keys = _NameKeys(session)
    query = _filtered(_columns(), search)
    if by_given_only:
        return query.where(keys.prefix(keys.given, search.key)).order_by(
            keys.given, keys.family, Patient.id, Referral.id
        )
    query = query.where(keys.prefix(keys.family, search.key))
    if search.given_prefix:
        query = query.where(keys.prefix(keys.given, search.given_prefix))
    return query.order_by(keys.family, keys.given, Patient.id, Referral.id)


def _query(session: Session, search: ReferralSearch, *, by_given_only: bool = False) -> _Query:
    if search.kind is SearchKind.UBRN:
        return _filtered(_columns(), search).where(Referral.ubrn == search.key)
    if search.kind is SearchKind.NHS_NUMBER:
        return (
            _filtered(_columns(), search)
            .where(Patient.nhs_number == search.key)
            .order_by(Referral.referral_date.desc(), Referral.id.desc())
        )
    if search.kind is SearchKind.NAME:
        return _name_query(session, search, by_given_only=by_given_only)
    return _filtered(_columns(), search).order_by(Referral.id.desc())


def _read(session: Session, query: _Query, page: int) -> list[SearchRow]:
    rows = session.execute(query.offset((page - 1) * PAGE_SIZE).limit(PAGE_SIZE + 1)).all()
    return [
        SearchRow(
            referral_id=row[0],
            ubrn=row[1],
            patient_name=f"{row[2]} {row[3]}",
            masked_nhs_number=mask_nhs_number(row[4]),
            date_of_birth=row[5],
            priority=row[6],
            status=row[7],
            specialty=row[8],
            referral_date=row[9],
            next_channel=row[10],
            reached_by=row[11],
            paused=row[12] is not None,
        )
        for row in rows
    ]


def _family_name_starts_with(session: Session, prefix: str) -> bool:
    keys = _NameKeys(session)
    found = session.scalar(select(Patient.id).where(keys.prefix(keys.family, prefix)).limit(1))
    return found is not None


def search_referrals(session: Session, search: ReferralSearch) -> SearchPage:
    """One page of referrals matching ``search`` (module docstring for the order)."""
    by_given_name = (
        search.kind is SearchKind.NAME
        and not search.given_prefix
        and not _family_name_starts_with(session, search.key)
    )
    rows = _read(session, _query(session, search, by_given_only=by_given_name), search.page)
    return SearchPage(rows[:PAGE_SIZE], search.page, len(rows) > PAGE_SIZE, by_given_name)


def specialties(session: Session) -> list[str]:
    """Every specialty referrals have, in order: one index probe each on
    ``ix_referral_specialty`` (a skip scan), not a read of the table."""
    return distinct_values(session, "referral", "specialty", MAX_SPECIALTIES)
