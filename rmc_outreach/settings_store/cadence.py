"""Journey cadences written as text an admin can read and edit, one step a line::

    call morning
    sms +5m
    call +1d afternoon
    call +2d late
    sms +5m
    letter +1d

A step is its channel (``call``, ``sms``, ``letter``), then optionally ``+Nd`` (that many
working days after the previous step), ``+Nm`` or ``+Nh`` (the least gap after the previous
step; 10 minutes when not given) and a time of day (``morning``, ``midday``, ``afternoon``,
``late``). Commas may separate steps instead of new lines.
"""

from __future__ import annotations

import re
from datetime import timedelta

from rmc_outreach.journey import Step, TimeOfDay
from rmc_outreach.models.states import Channel

MAX_STEPS = 12
MAX_WORKING_DAYS_LATER = 10
MAX_GAP = timedelta(hours=24)
# A second call on the same day waits at least this long after the step before it: more often
# is what patients (and Ofcom's persistent-misuse policy) count as nuisance calling.
MIN_SAME_DAY_CALL_GAP = timedelta(hours=1)
DEFAULT_GAP = Step(Channel.CALL).min_gap
CHANNEL_WORDS = {"call": Channel.CALL, "sms": Channel.SMS, "letter": Channel.LETTER}
_DAYS = re.compile(r"^\+(\d{1,2})d$")
_GAP = re.compile(r"^\+(\d{1,4})([mh])$")


class CadenceError(ValueError):
    """A cadence that cannot be used; the message says which step and why."""


def parse_cadence(text: str) -> tuple[Step, ...]:
    """The steps ``text`` describes; raises ``CadenceError`` naming the first bad step."""
    lines = [line.strip() for line in re.split(r"[\n,;]", text) if line.strip()]
    if not lines:
        raise CadenceError("give at least one step, e.g. 'call morning'")
    if len(lines) > MAX_STEPS:
        raise CadenceError(f"at most {MAX_STEPS} steps, got {len(lines)}")
    steps = tuple(_parse_step(number, line) for number, line in enumerate(lines, start=1))
    _check_order(steps)
    return steps


def _parse_step(number: int, line: str) -> Step:
    words = line.lower().split()
    channel = CHANNEL_WORDS.get(words[0])
    if channel is None:
        raise CadenceError(f"step {number} must start with call, sms or letter")
    days, gap, time_of_day = 0, DEFAULT_GAP, TimeOfDay.ANY
    for word in words[1:]:
        if match := _DAYS.match(word):
            days = int(match.group(1))
            if days > MAX_WORKING_DAYS_LATER:
                raise CadenceError(
                    f"step {number}: at most +{MAX_WORKING_DAYS_LATER}d working days later"
                )
        elif match := _GAP.match(word):
            amount = int(match.group(1))
            gap = timedelta(minutes=amount) if match.group(2) == "m" else timedelta(hours=amount)
            if not timedelta(minutes=1) <= gap <= MAX_GAP:
                raise CadenceError(f"step {number}: a gap must be from +1m to +24h")
        elif word in {member.value for member in TimeOfDay}:
            time_of_day = TimeOfDay(word)
        else:
            raise CadenceError(
                f"step {number}: {word[:20]!r} is not +Nd, +Nm, +Nh or a time of day "
                "(morning, midday, afternoon, late)"
            )
    return Step(channel, working_days_later=days, min_gap=gap, time_of_day=time_of_day)


def _check_order(steps: tuple[Step, ...]) -> None:
    for number, step in enumerate(steps, start=1):
        if step.channel is Channel.LETTER and number != len(steps):
            raise CadenceError(f"step {number}: a letter is the last resort, so the last step")
        same_day_call = number > 1 and step.channel is Channel.CALL and step.working_days_later == 0
        if same_day_call and step.min_gap < MIN_SAME_DAY_CALL_GAP:
            raise CadenceError(
                f"step {number}: a call on the same day as the step before needs +1h or more"
            )


def format_cadence(steps: tuple[Step, ...]) -> str:
    """``steps`` as text ``parse_cadence`` reads back to the same steps, one step a line."""
    return "\n".join(_format_step(step) for step in steps)


def _format_step(step: Step) -> str:
    words = [next(word for word, channel in CHANNEL_WORDS.items() if channel is step.channel)]
    if step.working_days_later:
        words.append(f"+{step.working_days_later}d")
    if step.min_gap != DEFAULT_GAP:
        minutes = int(step.min_gap.total_seconds() // 60)
        words.append(f"+{minutes // 60}h" if minutes % 60 == 0 else f"+{minutes}m")
    if step.time_of_day is not TimeOfDay.ANY:
        words.append(step.time_of_day.value)
    return " ".join(words)
