"""The states and kinds the data model uses, as ``StrEnum``s.

Referral status::

    waiting ──> in_outreach ──> reached ──> booked
       │             │             └──────> declined
       │             ├──> exhausted   (journey ran out: handed back to people)
       └─────────────┴──> cancelled   (withdrawn by the referrer or the centre)

Contact attempt state (``final`` absorbs; ``uncertain`` is reconciled with the provider, never
re-sent blindly)::

    pending ──> claimed ──> sent ──> final
                   └──────> uncertain ──> final

Handler state::

    offline ──> available ──> ringing ──> on_call ──> wrap_up ──> available
                    └──> away ──> available
"""

from __future__ import annotations

from enum import StrEnum


class ReferralStatus(StrEnum):
    """Where a referral is in outreach."""

    WAITING = "waiting"
    IN_OUTREACH = "in_outreach"
    REACHED = "reached"
    BOOKED = "booked"
    DECLINED = "declined"
    EXHAUSTED = "exhausted"
    CANCELLED = "cancelled"


OPEN_REFERRAL_STATUSES = (ReferralStatus.WAITING, ReferralStatus.IN_OUTREACH)


class Priority(StrEnum):
    """Clinical priority from e-RS; two-week-wait (suspected cancer) first, then urgent."""

    TWO_WEEK_WAIT = "2ww"
    URGENT = "urgent"
    ROUTINE = "routine"

    @property
    def rank(self) -> int:
        """Dispatch order: lower goes first."""
        return PRIORITY_ORDER.index(self)


PRIORITY_ORDER = (Priority.TWO_WEEK_WAIT, Priority.URGENT, Priority.ROUTINE)


class Channel(StrEnum):
    """How an attempt contacts the patient."""

    CALL = "call"
    SMS = "sms"
    LETTER = "letter"


class AttemptState(StrEnum):
    """Lifecycle of one contact attempt (see the module docstring)."""

    PENDING = "pending"
    CLAIMED = "claimed"
    SENT = "sent"
    UNCERTAIN = "uncertain"
    FINAL = "final"


class AttemptOutcome(StrEnum):
    """What an attempt achieved; set when it becomes final."""

    HUMAN_HANDOFF = "human_handoff"
    IVR_CHOICE = "ivr_choice"
    VOICEMAIL_LEFT = "voicemail_left"
    MACHINE_NO_MESSAGE = "machine_no_message"
    NO_ANSWER = "no_answer"
    BUSY = "busy"
    FAILED = "failed"
    CANCELED = "canceled"
    DELIVERED = "delivered"
    UNDELIVERED = "undelivered"
    REPLIED = "replied"
    LETTER_PRINTED = "letter_printed"
    LETTER_CANCELLED = "letter_cancelled"


class HandlerState(StrEnum):
    """A call handler's availability (see the module docstring)."""

    OFFLINE = "offline"
    AVAILABLE = "available"
    RINGING = "ringing"
    ON_CALL = "on_call"
    WRAP_UP = "wrap_up"
    AWAY = "away"


class Role(StrEnum):
    """What a signed-in user may do; least privilege first."""

    HANDLER = "handler"
    SUPERVISOR = "supervisor"
    MANAGER = "manager"
    ADMIN = "admin"


class ImportStatus(StrEnum):
    """Outcome of one referral import."""

    RUNNING = "running"
    COMPLETED = "completed"
    COMPLETED_WITH_REJECTIONS = "completed_with_rejections"
    REJECTED = "rejected"
    FAILED = "failed"
