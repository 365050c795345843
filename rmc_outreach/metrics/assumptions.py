"""The assumptions behind staff time saved and provider cost: defaults, and an admin's changes.

Each assumption has a default here; an admin may change it (``save_assumptions``, audited as
``stats.assumption_change`` with the old and new values), and the change is kept in
``metric_assumption``. The figures always show the assumptions they were computed with.

Staff time saved compares the minutes the manual process would have spent on the same work with
the minutes staff still spend on it. Talking to a patient takes the same time either way, so it
is in neither: a handler's conversation is not "saved", only the dialling, ringing out, leaving
messages, typing texts and preparing letters that the service now does.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields

from sqlalchemy import select
from sqlalchemy.orm import Session

from rmc_outreach.audit import record_audit_event
from rmc_outreach.clock import now
from rmc_outreach.models import MetricAssumption

AUDIT_ACTION = "stats.assumption_change"


@dataclass(frozen=True)
class Assumption:
    """One assumption's name, what it means (shown beside the figures), unit and largest
    accepted value (its default is ``Assumptions``' field of the same name)."""

    name: str
    label: str
    unit: str
    maximum: float


ASSUMPTIONS = (
    Assumption(
        "manual_minutes_per_call",
        "A handler's time to dial one call and wait for an answer or for it to ring out",
        "minutes",
        60,
    ),
    Assumption(
        "manual_minutes_per_voicemail",
        "A handler's extra time to leave one voicemail",
        "minutes",
        60,
    ),
    Assumption("manual_minutes_per_sms", "A handler's time to send one text", "minutes", 60),
    Assumption(
        "manual_minutes_per_letter",
        "A handler's time to prepare one letter by hand",
        "minutes",
        120,
    ),
    Assumption(
        "staff_minutes_per_printed_letter",
        "Staff time still spent on each printed letter (printing, envelopes, post)",
        "minutes",
        120,
    ),
    Assumption(
        "staff_minutes_per_handoff",
        "A handler's extra time for each patient handed over (the whisper and screen-pop)",
        "minutes",
        60,
    ),
    Assumption("hours_per_fte_day", "Hours in one full-time working day", "hours", 24),
    Assumption(
        "call_price_per_minute",
        "Provider price per started minute of an outbound call",
        "GBP",
        100,
    ),
    Assumption("sms_price_per_segment", "Provider price per SMS segment sent", "GBP", 100),
    Assumption("letter_price", "Printing and postage per letter printed", "GBP", 100),
)
BY_NAME = {assumption.name: assumption for assumption in ASSUMPTIONS}


@dataclass(frozen=True)
class Assumptions:
    """The values in force (field names are the assumptions' names)."""

    manual_minutes_per_call: float = 2.0
    manual_minutes_per_voicemail: float = 1.0
    manual_minutes_per_sms: float = 1.5
    manual_minutes_per_letter: float = 5.0
    staff_minutes_per_printed_letter: float = 1.0
    staff_minutes_per_handoff: float = 0.5
    hours_per_fte_day: float = 7.5
    call_price_per_minute: float = 0.03
    sms_price_per_segment: float = 0.04
    letter_price: float = 0.85

    def as_dict(self) -> dict[str, float]:
        """Name to value, in the order of ``ASSUMPTIONS``."""
        return {field.name: getattr(self, field.name) for field in fields(self)}


class AssumptionError(ValueError):
    """A value an admin entered that cannot be used; ``name`` says which."""

    def __init__(self, name: str, message: str) -> None:
        super().__init__(message)
        self.name = name


def load_assumptions(session: Session) -> Assumptions:
    """The assumptions in force: an admin's values where set, defaults elsewhere."""
    stored = dict(session.execute(select(MetricAssumption.name, MetricAssumption.value)).all())
    return Assumptions(**{name: float(v) for name, v in stored.items() if name in BY_NAME})


def parse_assumptions(form: Mapping[str, str]) -> dict[str, float]:
    """Values from a form (every assumption's name), checked: a number, not negative, within
    its maximum; hours in an FTE day above zero. Raises ``AssumptionError`` on the first bad
    value."""
    values: dict[str, float] = {}
    for assumption in ASSUMPTIONS:
        text = (form.get(assumption.name) or "").strip()
        try:
            value = float(text)
        except ValueError:
            raise AssumptionError(
                assumption.name, f"{assumption.label}: enter a number, not {text[:20]!r}"
            ) from None
        if not 0 <= value <= assumption.maximum or (
            assumption.name == "hours_per_fte_day" and value == 0
        ):
            raise AssumptionError(
                assumption.name,
                f"{assumption.label}: enter a number above 0 and at most {assumption.maximum:g}"
                if assumption.name == "hours_per_fte_day"
                else f"{assumption.label}: enter a number from 0 to {assumption.maximum:g}",
            )
        values[assumption.name] = value
    return values


def save_assumptions(
    session: Session,
    values: Mapping[str, float],
    *,
    actor_label: str,
    actor_user_id: int | None,
) -> dict[str, tuple[float, float]]:
    """Store an admin's values; returns (old, new) of each that changed. One audit event per
    save that changes anything, listing every change."""
    current = load_assumptions(session).as_dict()
    changed = {
        name: (current[name], float(value))
        for name, value in values.items()
        if name in BY_NAME and float(value) != current[name]
    }
    for name, (_, new) in changed.items():
        row = session.get(MetricAssumption, name)
        if row is None:
            session.add(MetricAssumption(name=name, value=new, updated_by_user_id=actor_user_id))
        else:
            row.value = new
            row.updated_at = now()
            row.updated_by_user_id = actor_user_id
    if changed:
        record_audit_event(
            session,
            actor_label=actor_label,
            actor_user_id=actor_user_id,
            action=AUDIT_ACTION,
            outcome="changed",
            object_type="metric_assumption",
            detail={name: {"old": old, "new": new} for name, (old, new) in changed.items()},
        )
    return changed
