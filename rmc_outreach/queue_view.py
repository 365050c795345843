"""The referral queue as a supervisor sees it: counts by status and priority, the oldest waiting.

Plain functions over a Session. Counts are one GROUP BY; the oldest waiting referrals are read per
priority with a LIMIT, so no request reads the whole referral table. Identifiers leave this module
masked only: clear NHS numbers and phone numbers never reach a page.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from rmc_outreach.clock import now
from rmc_outreach.identifiers import mask_nhs_number
from rmc_outreach.models import OPEN_REFERRAL_STATUSES, Patient, Priority, Referral, ReferralStatus
from rmc_outreach.models.states import PRIORITY_ORDER
from rmc_outreach.phones import mask_phone

DEFAULT_OLDEST_LIMIT = 25

PRIORITY_LABELS: Mapping[Priority, str] = {
    Priority.TWO_WEEK_WAIT: "2WW",
    Priority.URGENT: "Urgent",
    Priority.ROUTINE: "Routine",
}
STATUS_LABELS: Mapping[ReferralStatus, str] = {
    ReferralStatus.WAITING: "Waiting",
    ReferralStatus.IN_OUTREACH: "In outreach",
    ReferralStatus.REACHED: "Reached",
    ReferralStatus.BOOKED: "Booked",
    ReferralStatus.DECLINED: "Declined",
    ReferralStatus.EXHAUSTED: "Exhausted",
    ReferralStatus.CANCELLED: "Cancelled",
}


@dataclass(frozen=True)
class QueueCounts:
    """Referral counts for every (status, priority) pair (zero where there are none)."""

    cells: Mapping[tuple[ReferralStatus, Priority], int]

    def count(self, status: ReferralStatus, priority: Priority) -> int:
        """Referrals with this status and priority."""
        return self.cells.get((status, priority), 0)

    def status_total(self, status: ReferralStatus) -> int:
        """Referrals with this status, any priority."""
        return sum(self.count(status, priority) for priority in Priority)

    def priority_total(self, priority: Priority, open_only: bool = False) -> int:
        """Referrals with this priority, in every status (or open statuses only)."""
        statuses = OPEN_REFERRAL_STATUSES if open_only else tuple(ReferralStatus)
        return sum(self.count(status, priority) for status in statuses)

    @property
    def total(self) -> int:
        """All referrals."""
        return sum(self.cells.values())

    @property
    def total_open(self) -> int:
        """Referrals still being worked: waiting or in outreach."""
        return sum(self.status_total(status) for status in OPEN_REFERRAL_STATUSES)

    def as_dict(self) -> dict[str, Any]:
        """The counts as JSON-ready nested dicts keyed by status and priority values."""
        return {
            "by_status": {
                status.value: {
                    **{priority.value: self.count(status, priority) for priority in Priority},
                    "total": self.status_total(status),
                }
                for status in ReferralStatus
            },
            "by_priority": {priority.value: self.priority_total(priority) for priority in Priority},
            "open_by_priority": {
                priority.value: self.priority_total(priority, open_only=True)
                for priority in Priority
            },
            "total": self.total,
            "total_open": self.total_open,
        }


@dataclass(frozen=True)
class MaskedPhone:
    """A phone number with all but its last digits hidden, and what kind of phone it is."""

    kind: str
    masked: str


@dataclass(frozen=True)
class WaitingReferral:
    """One waiting referral as the queue page shows it: masked identifiers only."""

    referral_id: int
    ubrn: str
    priority: Priority
    specialty: str
    referral_date: date
    days_waiting: int
    masked_nhs_number: str
    phones: tuple[MaskedPhone, ...]
    contact_flags: tuple[str, ...]

    @property
    def priority_label(self) -> str:
        """The priority as staff write it (2WW, Urgent, Routine)."""
        return PRIORITY_LABELS[self.priority]

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready, masked."""
        return {
            "referral_id": self.referral_id,
            "ubrn": self.ubrn,
            "priority": self.priority.value,
            "specialty": self.specialty,
            "referral_date": self.referral_date.isoformat(),
            "days_waiting": self.days_waiting,
            "nhs_number": self.masked_nhs_number,
            "phones": [{"kind": phone.kind, "number": phone.masked} for phone in self.phones],
            "contact_flags": list(self.contact_flags),
        }


@dataclass(frozen=True)
class QueueSnapshot:
    """Everything the queue page shows about referrals, read at one moment."""

    counts: QueueCounts
    oldest_waiting: tuple[WaitingReferral, ...]
    today: date
    generated_at: datetime = field(default_factory=now)

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready, masked."""
        return {
            "generated_at": self.generated_at.isoformat(),
            "today": self.today.isoformat(),
            "counts": self.counts.as_dict(),
            "oldest_waiting": [referral.as_dict() for referral in self.oldest_waiting],
        }


def local_today(timezone: str) -> date:
    """Today's date where the centre works (days waiting are counted in local days)."""
    return now().astimezone(ZoneInfo(timezone)).date()


def count_by_status_and_priority(session: Session) -> QueueCounts:
    """Count referrals by status and priority in one GROUP BY."""
    rows = session.execute(
        select(Referral.status, Referral.priority, func.count()).group_by(
            Referral.status, Referral.priority
        )
    ).all()
    return QueueCounts({(status, priority): count for status, priority, count in rows})


_WAITING_COLUMNS = (
    Referral.id,
    Referral.ubrn,
    Referral.priority,
    Referral.specialty,
    Referral.referral_date,
    Patient.nhs_number,
    Patient.mobile_phone,
    Patient.landline_phone,
    Patient.no_voicemail,
    Patient.no_sms,
    Patient.letter_only,
    Patient.landline_only,
    Patient.large_print,
    Patient.language,
    Patient.sms_opted_out_at,
    Patient.contact_opted_out_at,
)


def oldest_waiting(
    session: Session, today: date, limit: int = DEFAULT_OLDEST_LIMIT
) -> tuple[WaitingReferral, ...]:
    """The ``limit`` waiting referrals to contact first: 2WW, then urgent, then routine; oldest
    referral date first within a priority.

    One small query per priority, each using the (status, referral_date) index with a LIMIT, and
    the lower priorities are read only while the list is not yet full.
    """
    found: list[WaitingReferral] = []
    for priority in PRIORITY_ORDER:
        remaining = limit - len(found)
        if remaining <= 0:
            break
        rows = session.execute(
            select(*_WAITING_COLUMNS)
            .join(Patient, Patient.id == Referral.patient_id)
            .where(Referral.status == ReferralStatus.WAITING, Referral.priority == priority)
            .order_by(Referral.referral_date, Referral.id)
            .limit(remaining)
        ).all()
        found.extend(_waiting_referral(row, today) for row in rows)
    return tuple(found)


def _waiting_referral(row: Any, today: date) -> WaitingReferral:
    phones = tuple(
        MaskedPhone(kind, mask_phone(number))
        for kind, number in (("Mobile", row.mobile_phone), ("Landline", row.landline_phone))
        if number
    )
    return WaitingReferral(
        referral_id=row.id,
        ubrn=row.ubrn,
        priority=row.priority,
        specialty=row.specialty,
        referral_date=row.referral_date,
        days_waiting=max(0, (today - row.referral_date).days),
        masked_nhs_number=mask_nhs_number(row.nhs_number),
        phones=phones,
        contact_flags=_contact_flags(row),
    )


def _contact_flags(row: Any) -> tuple[str, ...]:
    flags = [
        label
        for label, present in (
            ("Contact opted out", row.contact_opted_out_at is not None),
            ("SMS opted out", row.sms_opted_out_at is not None),
            ("Letter only", row.letter_only),
            ("Landline only", row.landline_only),
            ("No voicemail", row.no_voicemail),
            ("No SMS", row.no_sms),
            ("Large print", row.large_print),
        )
        if present
    ]
    if row.language:
        flags.append(f"Language: {row.language}")
    return tuple(flags)


def queue_snapshot(
    session: Session,
    today: date,
    limit: int = DEFAULT_OLDEST_LIMIT,
    *,
    generated_at: datetime | None = None,
) -> QueueSnapshot:
    """Counts and the oldest waiting referrals, read in the caller's transaction
    (``generated_at``: the moment the page is for; ``clock.now()`` by default)."""
    return QueueSnapshot(
        counts=count_by_status_and_priority(session),
        oldest_waiting=oldest_waiting(session, today, limit),
        today=today,
        generated_at=generated_at or now(),
    )
