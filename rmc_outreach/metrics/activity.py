"""What the service did in a range: attempts made on each channel and what became of them.

An attempt counts once it was *made*: placed, sent or queued for print (not ``pending``), and
not cancelled before it went (``canceled``, ``letter_cancelled``). Each attempt counts on the
local day it was created. One GROUP BY over the range's made attempts (``made_attempts``,
through ``ix_contact_attempt_created_at``, with each live call's handoff through
``ix_handoff_attempt_id``), read in the same statement as ``reach``, gives every figure here:

- calls, texts and letters; voicemails left; letters printed;
- live-answered calls and abandoned calls: ``rmc_outreach.abandonment``'s definitions (a person
  answered: ``abandonment.live_answered``; abandoned: the call's handoff is ``abandoned``);
- handoffs bridged (a handler took the patient);
- call minutes billed: each call's started minutes (``duration_seconds`` rounded up to whole
  minutes, as the provider bills);
- SMS segments: each text's template, counted in segments as rendered for the centre;
- the answering-machine detection mix: calls by ``answered_by`` (Twilio's AnsweredBy).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, fields
from datetime import date
from typing import Any, Self
from zoneinfo import ZoneInfo

from sqlalchemy import CTE, ColumnElement, Select, and_, case, func, or_, select
from sqlalchemy.orm import Session, aliased

from rmc_outreach.abandonment import live_answered
from rmc_outreach.metrics.grouped import GroupedRow, grouped_columns
from rmc_outreach.metrics.periods import DateRange, as_date, local_day_of
from rmc_outreach.models import AttemptOutcome, AttemptState, Channel, ContactAttempt, Handoff

NOT_MADE_OUTCOMES = (AttemptOutcome.CANCELED, AttemptOutcome.LETTER_CANCELLED)
NO_AMD_RESULT = "none"  # a call with no AnsweredBy: not answered, or no detection result


def attempt_made(attempt: type[ContactAttempt] = ContactAttempt) -> ColumnElement[bool]:
    """The condition on ``attempt`` (``ContactAttempt`` or an alias of it): the attempt went
    (see the module docstring)."""
    return and_(
        attempt.state != AttemptState.PENDING,
        or_(attempt.outcome.is_(None), attempt.outcome.not_in(NOT_MADE_OUTCOMES)),
    )


@dataclass(frozen=True)
class WorkCounts:
    """Counts of the work done, summable over days."""

    calls: int = 0
    sms: int = 0
    letters: int = 0
    voicemails: int = 0
    letters_printed: int = 0
    live_answered: int = 0
    abandoned: int = 0
    handoffs_bridged: int = 0
    call_minutes: int = 0
    sms_segments: int = 0

    @property
    def attempts(self) -> int:
        """Attempts made on every channel."""
        return self.calls + self.sms + self.letters

    def __add__(self, other: WorkCounts) -> Self:
        return type(self)(
            **{f.name: getattr(self, f.name) + getattr(other, f.name) for f in fields(self)}
        )


# What became of a live-answered call's handoff (``AttemptGroup.handoff``).
NO_HANDOFF, HANDOFF_WAITING, HANDOFF_BRIDGED, HANDOFF_ABANDONED = 0, 1, 2, 3


@dataclass(frozen=True)
class AttemptGroup:
    """One row of the range's GROUP BY: attempts of a day, channel, outcome, AMD result and
    template, whether a person answered (calls) and what became of their handoff."""

    day: date
    channel: Channel
    outcome: str | None
    answered_by: str | None
    template: str | None
    live_answered: bool
    handoff: int
    count: int
    call_minutes: int


def made_attempts(session: Session, date_range: DateRange, zone: ZoneInfo) -> CTE:
    """The range's made attempts, one row each (through ``ix_contact_attempt_created_at``):
    ``id``, ``referral_id``, ``created_at``, its local ``day``, ``channel``, ``outcome``,
    ``answered_by``, ``template``, ``live`` (1 when a person answered the call), what became
    of a live call's ``handoff`` and the call's started ``minutes``. ``attempt_parts`` groups
    them; ``reach`` reads them per referral."""
    start, end = date_range.bounds(zone)
    is_live = and_(ContactAttempt.channel == Channel.CALL, live_answered())
    minutes = case(
        (
            and_(ContactAttempt.channel == Channel.CALL, ContactAttempt.duration_seconds > 0),
            (ContactAttempt.duration_seconds + 59) // 60,
        ),
        else_=0,
    )
    # A call's handoff joins its queue after the call is created, so the range's live calls
    # find theirs among the handoffs queued since the range began: one range of
    # ix_handoff_queued_at, hashed, instead of an index probe per call. A live call without
    # one there (none, or a handoff stamped earlier than its call) is still looked up by
    # ix_handoff_attempt_id, so the figure does not rest on that order.
    recent = aliased(Handoff)
    recent_handoffs = (
        select(recent.attempt_id, _handoff_state(recent).label("state"))
        .where(recent.queued_at >= start, recent.attempt_id.is_not(None))
        .subquery("recent_handoff")
    )
    looked_up = (
        select(_handoff_state(Handoff))
        .where(Handoff.attempt_id == ContactAttempt.id)
        .scalar_subquery()
    )
    handoff = case(
        (is_live, func.coalesce(recent_handoffs.c.state, looked_up, NO_HANDOFF)),
        else_=NO_HANDOFF,
    )
    return (
        select(
            ContactAttempt.id.label("id"),
            ContactAttempt.referral_id.label("referral_id"),
            ContactAttempt.created_at.label("created_at"),
            local_day_of(session, ContactAttempt.created_at, zone, date_range).label("day"),
            ContactAttempt.channel.label("channel"),
            ContactAttempt.outcome.label("outcome"),
            ContactAttempt.answered_by.label("answered_by"),
            ContactAttempt.template.label("template"),
            case((is_live, 1), else_=0).label("live"),
            handoff.label("handoff"),
            minutes.label("minutes"),
        )
        .outerjoin(recent_handoffs, recent_handoffs.c.attempt_id == ContactAttempt.id)
        .where(
            ContactAttempt.created_at >= start,
            ContactAttempt.created_at < end,
            attempt_made(),
        )
        .cte("made")
    )


def _handoff_state(handoff: type[Handoff]) -> ColumnElement[int]:
    return case(
        (handoff.abandoned.is_(True), HANDOFF_ABANDONED),
        (handoff.connected_at.is_not(None), HANDOFF_BRIDGED),
        else_=HANDOFF_WAITING,
    )


def attempt_parts(made: CTE) -> list[Select[Any]]:
    """The GROUP BY of ``made_attempts`` as a part of ``grouped.read_grouped`` (dimension
    ``attempts``): attempts by day, channel, outcome, AMD result, template, whether a person
    answered and what became of their handoff, with the call minutes."""
    keys = (
        made.c.day,
        made.c.channel,
        made.c.outcome,
        made.c.answered_by,
        made.c.template,
        made.c.live,
        made.c.handoff,
    )
    columns = grouped_columns(
        "attempts",
        made.c.day,
        func.count(),
        func.coalesce(func.sum(made.c.minutes), 0),
        attempt_keys=keys[1:],
    )
    return [select(*columns).group_by(*keys)]


def attempt_groups(rows: list[GroupedRow]) -> list[AttemptGroup]:
    """``attempt_parts``' rows as ``AttemptGroup``s."""
    return [
        AttemptGroup(
            day=as_date(row.key or ""),
            channel=Channel(row.channel or ""),
            outcome=row.outcome,
            answered_by=row.answered_by,
            template=row.template,
            live_answered=bool(row.live),
            handoff=row.handoff or NO_HANDOFF,
            count=row.count,
            call_minutes=row.amount,
        )
        for row in rows
    ]


def work_by_day(
    groups: list[AttemptGroup], sms_segments: Mapping[str, int]
) -> dict[date, WorkCounts]:
    """Each day's ``WorkCounts``; a text of an unknown template counts as one segment."""
    days: dict[date, WorkCounts] = {}
    for group in groups:
        days[group.day] = days.get(group.day, WorkCounts()) + _counts(group, sms_segments)
    return days


def _counts(group: AttemptGroup, sms_segments: Mapping[str, int]) -> WorkCounts:
    n = group.count
    channel = group.channel
    return WorkCounts(
        calls=n if channel is Channel.CALL else 0,
        sms=n if channel is Channel.SMS else 0,
        letters=n if channel is Channel.LETTER else 0,
        voicemails=n if group.outcome == AttemptOutcome.VOICEMAIL_LEFT else 0,
        letters_printed=n if group.outcome == AttemptOutcome.LETTER_PRINTED else 0,
        live_answered=n if group.live_answered else 0,
        abandoned=n if group.handoff == HANDOFF_ABANDONED else 0,
        handoffs_bridged=n if group.handoff == HANDOFF_BRIDGED else 0,
        call_minutes=group.call_minutes,
        sms_segments=(
            n * sms_segments.get(group.template or "", 1) if channel is Channel.SMS else 0
        ),
    )


def amd_mix(groups: list[AttemptGroup]) -> dict[str, int]:
    """Calls by answering-machine detection result, most frequent first."""
    mix: Counter[str] = Counter()
    for group in groups:
        if group.channel is Channel.CALL:
            mix[group.answered_by or NO_AMD_RESULT] += group.count
    return dict(sorted(mix.items(), key=lambda item: (-item[1], item[0])))


def outcomes_by_channel(groups: list[AttemptGroup]) -> dict[Channel, dict[str, int]]:
    """Attempts by outcome on each channel (``in_progress`` where no outcome is known yet),
    most frequent first."""
    found: dict[Channel, Counter[str]] = {channel: Counter() for channel in Channel}
    for group in groups:
        found[group.channel][group.outcome or "in_progress"] += group.count
    return {
        channel: dict(sorted(mix.items(), key=lambda item: (-item[1], item[0])))
        for channel, mix in found.items()
    }
