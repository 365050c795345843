"""Today's outreach: attempts on every channel, patients' responses, journeys that ended.

"Today" is the local day where the centre works (``settings.timezone``) around ``clock.now()``,
so in the demo it is the simulated day. Each figure is one aggregate read through an index:

- attempts: one GROUP BY over the day's range of ``ix_contact_attempt_created_at`` (an attempt is
  created moments before it is sent);
- replies: ``ix_callback_request_open`` (a reply is still open, or was completed after it came);
- opt-outs: the audit trail's ``ix_audit_event_action_occurred_at``;
- reached: ``referral.reached_at``; exhausted: ``referral (status, updated_at)`` (see
  ``responses_today`` for the indexes these two need).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import case, func, or_, select
from sqlalchemy.orm import Session

from rmc_outreach.models import (
    AttemptOutcome,
    AttemptState,
    AuditEvent,
    CallbackRequest,
    Channel,
    ContactAttempt,
    Referral,
    ReferralStatus,
)

# What the engine writes (``inbound_sms``, ``call_events``); tests drive the engine to pin them.
SMS_OPT_OUT_ACTION = "sms_opt_out"
SMS_REPLY_REASONS = ("sms_reply", "sms_reply_unmatched", "sms_reply_ambiguous")
PERSON = "human"  # Twilio's AnsweredBy for a person
NOT_NEEDED = "3"  # keypad: I no longer need this appointment


@dataclass(frozen=True)
class LocalDay:
    """A local calendar day and the UTC instants it starts and ends at (23 or 25 hours long on
    the days the clocks change)."""

    day: date
    start: datetime
    end: datetime


def local_day(moment: datetime, timezone: str) -> LocalDay:
    """The local day around ``moment`` (timezone-aware) in ``timezone``."""
    zone = ZoneInfo(timezone)
    day = moment.astimezone(zone).date()
    start = datetime.combine(day, time(0), tzinfo=zone).astimezone(UTC)
    end = datetime.combine(day + timedelta(days=1), time(0), tzinfo=zone).astimezone(UTC)
    return LocalDay(day, start, end)


class CallResult(StrEnum):
    """Where one call attempt of the day stands."""

    QUEUED = "queued"  # not dialled yet
    IN_PROGRESS = "in_progress"  # being dialled, ringing, on the line, or being checked
    HANDED_TO_BOOKING_TEAM = "handed_to_booking_team"  # a person pressed 1
    ASKED_FOR_TEXT = "asked_for_text"  # a person pressed 2
    NO_LONGER_NEEDED = "no_longer_needed"  # a person pressed 3
    PERSON_NO_CHOICE = "person_no_choice"  # a person answered and chose nothing
    VOICEMAIL_LEFT = "voicemail_left"
    MACHINE_NO_MESSAGE = "machine_no_message"  # a machine answered; no message was left
    NO_ANSWER = "no_answer"
    BUSY = "busy"
    FAILED = "failed"  # refused, unreachable, or cancelled by the carrier
    NOT_PLACED = "not_placed"  # cancelled before dialling (patient reached, opted out...)


# Final call outcomes that need no further fact to classify.
_CALL_OUTCOMES: Mapping[AttemptOutcome, CallResult] = {
    AttemptOutcome.HUMAN_HANDOFF: CallResult.HANDED_TO_BOOKING_TEAM,
    AttemptOutcome.VOICEMAIL_LEFT: CallResult.VOICEMAIL_LEFT,
    AttemptOutcome.MACHINE_NO_MESSAGE: CallResult.MACHINE_NO_MESSAGE,
    AttemptOutcome.NO_ANSWER: CallResult.NO_ANSWER,
    AttemptOutcome.BUSY: CallResult.BUSY,
}


def call_result(
    state: AttemptState,
    outcome: AttemptOutcome | None,
    keypad_choice: str | None,
    answered_by_person: bool,
    has_provider_id: bool,
) -> CallResult:
    """Classify a call attempt by its state, outcome and the facts the carrier reported."""
    if state is not AttemptState.FINAL:
        return CallResult.QUEUED if state is AttemptState.PENDING else CallResult.IN_PROGRESS
    if outcome is AttemptOutcome.IVR_CHOICE:
        # Keypad 2 (text me how to book) or 3 (I no longer need this appointment).
        return (
            CallResult.NO_LONGER_NEEDED
            if keypad_choice == NOT_NEEDED
            else CallResult.ASKED_FOR_TEXT
        )
    if outcome is AttemptOutcome.NO_ANSWER and answered_by_person:
        return CallResult.PERSON_NO_CHOICE
    if outcome is AttemptOutcome.CANCELED and not has_provider_id:
        return CallResult.NOT_PLACED
    if outcome is None:
        return CallResult.FAILED
    return _CALL_OUTCOMES.get(outcome, CallResult.FAILED)


class SmsResult(StrEnum):
    """Where one text attempt of the day stands."""

    QUEUED = "queued"
    AWAITING_REPORT = "awaiting_report"  # being sent, or sent with no delivery report yet
    DELIVERED = "delivered"
    UNDELIVERED = "undelivered"  # refused, failed or not delivered
    NOT_SENT = "not_sent"  # cancelled before sending


def sms_result(state: AttemptState, outcome: AttemptOutcome | None) -> SmsResult:
    """Classify a text attempt by its state and outcome."""
    if state is AttemptState.PENDING:
        return SmsResult.QUEUED
    if state is not AttemptState.FINAL:
        return SmsResult.AWAITING_REPORT
    if outcome in (AttemptOutcome.DELIVERED, AttemptOutcome.REPLIED):
        return SmsResult.DELIVERED
    if outcome is AttemptOutcome.CANCELED:
        return SmsResult.NOT_SENT
    return SmsResult.UNDELIVERED


class LetterResult(StrEnum):
    """Where one letter attempt of the day stands."""

    QUEUED = "queued"
    WAITING_FOR_PRINT = "waiting_for_print"  # prepared, for the next print batch
    PRINTED = "printed"
    CANCELLED = "cancelled"  # prepared, then cancelled before the cut
    NOT_PREPARED = "not_prepared"  # cancelled or impossible before a letter was made


def letter_result(state: AttemptState, outcome: AttemptOutcome | None) -> LetterResult:
    """Classify a letter attempt by its state and outcome."""
    if state in (AttemptState.PENDING, AttemptState.CLAIMED):
        return LetterResult.QUEUED
    if state is not AttemptState.FINAL:
        return LetterResult.WAITING_FOR_PRINT
    if outcome is AttemptOutcome.LETTER_PRINTED:
        return LetterResult.PRINTED
    if outcome is AttemptOutcome.LETTER_CANCELLED:
        return LetterResult.CANCELLED
    return LetterResult.NOT_PREPARED


@dataclass(frozen=True)
class CallsToday:
    """Call attempts made today (``placed``: every call passed to the carrier)."""

    placed: int
    answered_by_person: int
    handed_to_booking_team: int
    asked_for_text: int
    no_longer_needed: int
    person_no_choice: int
    voicemail_left: int
    machine_no_message: int
    no_answer: int
    busy: int
    failed: int
    in_progress: int
    queued: int
    not_placed: int

    @classmethod
    def from_results(cls, results: Counter[CallResult]) -> CallsToday:
        """Totals from a count of call results."""
        person = sum(
            results[result]
            for result in (
                CallResult.HANDED_TO_BOOKING_TEAM,
                CallResult.ASKED_FOR_TEXT,
                CallResult.NO_LONGER_NEEDED,
                CallResult.PERSON_NO_CHOICE,
            )
        )
        placed = sum(results.values()) - results[CallResult.QUEUED] - results[CallResult.NOT_PLACED]
        return cls(
            placed=placed,
            answered_by_person=person,
            **{result.value: results[result] for result in CallResult},
        )


@dataclass(frozen=True)
class SmsToday:
    """Text attempts made today (``sent``: every text passed to the carrier)."""

    sent: int
    delivered: int
    undelivered: int
    awaiting_report: int
    queued: int
    not_sent: int

    @classmethod
    def from_results(cls, results: Counter[SmsResult]) -> SmsToday:
        """Totals from a count of text results."""
        sent = sum(results.values()) - results[SmsResult.QUEUED] - results[SmsResult.NOT_SENT]
        return cls(sent=sent, **{result.value: results[result] for result in SmsResult})


@dataclass(frozen=True)
class LettersToday:
    """Letter attempts made today (``prepared``: a letter was made for the print batch)."""

    prepared: int
    waiting_for_print: int
    printed: int
    cancelled: int
    queued: int
    not_prepared: int

    @classmethod
    def from_results(cls, results: Counter[LetterResult]) -> LettersToday:
        """Totals from a count of letter results."""
        prepared = (
            results[LetterResult.WAITING_FOR_PRINT]
            + results[LetterResult.PRINTED]
            + results[LetterResult.CANCELLED]
        )
        return cls(prepared=prepared, **{result.value: results[result] for result in LetterResult})


def attempts_today(session: Session, day: LocalDay) -> tuple[CallsToday, SmsToday, LettersToday]:
    """Today's attempts on every channel, from one GROUP BY over the day's range of the
    ``created_at`` index (an attempt is created moments before it is sent)."""
    person = case((ContactAttempt.answered_by == PERSON, 1), else_=0)
    has_provider_id = case((ContactAttempt.provider_sid.is_not(None), 1), else_=0)
    keys = (
        ContactAttempt.channel,
        ContactAttempt.state,
        ContactAttempt.outcome,
        ContactAttempt.keypad_choice,
        person,
        has_provider_id,
    )
    rows = session.execute(
        select(*keys, func.count())
        .where(ContactAttempt.created_at >= day.start, ContactAttempt.created_at < day.end)
        .group_by(*keys)
    ).all()
    calls: Counter[CallResult] = Counter()
    texts: Counter[SmsResult] = Counter()
    letters: Counter[LetterResult] = Counter()
    for channel, state, outcome, keypad, answered_by_person, sid, count in rows:
        if channel is Channel.CALL:
            calls[call_result(state, outcome, keypad, bool(answered_by_person), bool(sid))] += count
        elif channel is Channel.SMS:
            texts[sms_result(state, outcome)] += count
        else:
            letters[letter_result(state, outcome)] += count
    return (
        CallsToday.from_results(calls),
        SmsToday.from_results(texts),
        LettersToday.from_results(letters),
    )


@dataclass(frozen=True)
class ResponsesToday:
    """What patients did today, and journeys that ended today."""

    reached: int  # in contact today (by call or text), whatever happened next
    reached_by_call: int
    reached_by_sms: int
    declined: int  # reached today and no longer need the appointment
    replies: int  # texts asking for a call back
    sms_opt_outs: int
    exhausted: int  # journeys that ran out today: handed back to people
    exhausted_by_reason: Mapping[str, int]


def responses_today(session: Session, day: LocalDay) -> ResponsesToday:
    """Reached, declined, replies, opt-outs and exhausted journeys of the day.

    Reached and exhausted are read from the referral table by time: ``reached_at``, and for an
    exhausted referral ``updated_at`` (set when its journey ended; a later edit, such as a
    re-import, moves it). Without indexes on those columns these two reads scan the referral
    table; ``ix_referral_reached_at`` and ``ix_referral_status_updated_at`` bound them to the day.
    """
    reached_rows = session.execute(
        select(Referral.reached_by, Referral.status, func.count())
        .where(Referral.reached_at >= day.start, Referral.reached_at < day.end)
        .group_by(Referral.reached_by, Referral.status)
    ).all()
    by_channel: Counter[Channel | None] = Counter()
    declined = 0
    for channel, status, count in reached_rows:
        by_channel[channel] += count
        if status is ReferralStatus.DECLINED:
            declined += count
    exhausted_rows = session.execute(
        select(Referral.journey_end_reason, func.count())
        .where(
            Referral.status == ReferralStatus.EXHAUSTED,
            Referral.updated_at >= day.start,
            Referral.updated_at < day.end,
        )
        .group_by(Referral.journey_end_reason)
    ).all()
    exhausted_by_reason = {str(reason or "unknown"): count for reason, count in exhausted_rows}
    return ResponsesToday(
        reached=sum(by_channel.values()),
        reached_by_call=by_channel[Channel.CALL],
        reached_by_sms=by_channel[Channel.SMS],
        declined=declined,
        replies=_count(
            session,
            select(func.count())
            .select_from(CallbackRequest)
            .where(
                CallbackRequest.reason.in_(SMS_REPLY_REASONS),
                CallbackRequest.created_at >= day.start,
                CallbackRequest.created_at < day.end,
                # Bounds the read on the open-callbacks index: a request completed today or
                # still open (a reply is completed after it came, never before).
                or_(
                    CallbackRequest.completed_at.is_(None),
                    CallbackRequest.completed_at >= day.start,
                ),
            ),
        ),
        sms_opt_outs=_count(
            session,
            select(func.count())
            .select_from(AuditEvent)
            .where(
                AuditEvent.action == SMS_OPT_OUT_ACTION,
                AuditEvent.occurred_at >= day.start,
                AuditEvent.occurred_at < day.end,
            ),
        ),
        exhausted=sum(exhausted_by_reason.values()),
        exhausted_by_reason=exhausted_by_reason,
    )


def _count(session: Session, query: Any) -> int:
    return int(session.scalar(query) or 0)
