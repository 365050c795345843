"""The statistics as JSON (``stats --json``, the page's numbers) and as CSV rows.

Both are flat renderings of one ``Statistics``: the same numbers, never recomputed. CSV cells
that a spreadsheet would run as a formula (starting with ``=``, ``+``, ``-``, ``@``, a tab or a
carriage return) are neutralised with a leading apostrophe.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from sqlalchemy.orm import Session

from rmc_outreach.audit import record_audit_event
from rmc_outreach.metrics.assumptions import ASSUMPTIONS
from rmc_outreach.metrics.reach import ReachRow

if TYPE_CHECKING:
    from rmc_outreach.metrics import Statistics, TrendRow

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def _reach_row(row: ReachRow, key: str) -> dict[str, Any]:
    return {key: row.key, "referrals": row.referrals, "reached": row.reached, "rate": row.rate}


def _trend(row: TrendRow) -> dict[str, Any]:
    work = row.work
    return {
        "period": row.period.isoformat(),
        "calls": work.calls,
        "sms": work.sms,
        "letters": work.letters,
        "referrals_first_contacted": row.reach.referrals,
        "reached": row.reach.reached,
        "reach_rate": row.reach.rate,
        "live_answered": work.live_answered,
        "abandoned": work.abandoned,
        "abandoned_rate": row.abandoned_rate,
        "staff_hours_saved": row.saved_hours,
        "cost_gbp": row.cost,
    }


def statistics_dict(stats: Statistics) -> dict[str, Any]:
    """Every figure, JSON-ready (see ``Statistics``)."""
    found = stats.reach
    time_to_reach = found.time_to_reach
    work = stats.work
    staff = stats.staff_time
    cost = stats.cost
    return {
        "range": {
            "from": stats.date_range.first.isoformat(),
            "to": stats.date_range.last.isoformat(),
            "days": stats.date_range.days,
            "working_days": stats.working_days,
            "timezone": stats.timezone,
        },
        "generated_at": stats.generated_at.isoformat(),
        "reach": {
            "referrals": found.overall.referrals,
            "reached": found.overall.reached,
            "rate": found.overall.rate,
            "by_channel": [_reach_row(row, "channel") for row in found.by_channel],
            "by_attempt": [
                {
                    "attempt": row.attempt,
                    "had_attempt": row.had_attempt,
                    "reached_on_attempt": row.reached_on_attempt,
                    "rate": row.rate,
                    "reached_by_attempt": row.reached_by_attempt,
                    "cumulative_rate": row.cumulative_rate,
                }
                for row in found.by_attempt
            ],
            "by_priority": [_reach_row(row, "priority") for row in found.by_priority],
            "by_specialty": [_reach_row(row, "specialty") for row in found.by_specialty],
            "by_week": [_reach_row(row, "week") for row in found.by_week],
            "time_to_reach": {
                "reached": time_to_reach.reached,
                "median_hours": time_to_reach.median_hours,
                "p90_hours": time_to_reach.p90_hours,
                "buckets": [
                    {
                        "label": bucket.label,
                        "from_seconds": bucket.from_seconds,
                        "to_seconds": bucket.to_seconds,
                        "reached": bucket.reached,
                    }
                    for bucket in time_to_reach.buckets
                ],
            },
        },
        "attempts": {
            "total": work.attempts,
            "calls": work.calls,
            "sms": work.sms,
            "letters": work.letters,
            "voicemails": work.voicemails,
            "letters_printed": work.letters_printed,
            "by_outcome": {
                channel.value: dict(outcomes) for channel, outcomes in stats.outcomes.items()
            },
            "amd": dict(stats.amd),
        },
        "handoffs": {
            "bridged": work.handoffs_bridged,
            "waits": {
                "handoffs": stats.waits.handoffs,
                "median_seconds": stats.waits.median_seconds,
                "p90_seconds": stats.waits.p90_seconds,
            },
            "abandoned": {
                "live_answered": stats.abandoned.live_answered,
                "abandoned": stats.abandoned.abandoned,
                "rate": stats.abandoned.rate,
                "cap": stats.abandoned.cap,
                "worst_day": (
                    stats.abandoned.worst_day.isoformat() if stats.abandoned.worst_day else None
                ),
                "worst_day_rate": stats.abandoned.worst_day_rate,
            },
        },
        "staff_time": {
            "manual_minutes": staff.manual_minutes,
            "staff_minutes": staff.staff_minutes,
            "saved_hours": staff.saved_hours,
            "fte_per_day": staff.fte_per_day,
            "reduction": staff.reduction,
            "working_days": staff.working_days,
        },
        "cost": {
            "currency": "GBP",
            "call_minutes": cost.call_minutes,
            "sms_segments": cost.sms_segments,
            "letters_printed": cost.letters_printed,
            "calls": cost.calls,
            "sms": cost.sms,
            "letters": cost.letters,
            "total": cost.total,
        },
        "assumptions": {
            assumption.name: {
                "value": getattr(stats.assumptions, assumption.name),
                "unit": assumption.unit,
                "label": assumption.label,
            }
            for assumption in ASSUMPTIONS
        },
        "trends": {
            "days": [_trend(row) for row in stats.days],
            "weeks": [_trend(row) for row in stats.weeks],
        },
    }


def csv_rows(value: dict[str, Any], section: str = "") -> Iterator[tuple[str, str, str, Any]]:
    """(section, item, figure, value) for every figure: a list's rows are named by their first
    field (the day, week, specialty, attempt number...); other figures have no item."""
    for key, item in value.items():
        path = f"{section}.{key}" if section else key
        if isinstance(item, dict):
            yield from csv_rows(item, path)
        elif isinstance(item, list):
            for row in item:
                label, *_ = row.values()
                for name, leaf in list(row.items())[1:]:
                    yield (path, str(label), name, leaf)
        else:
            yield (section, "", key, item)


def neutralise(cell: str) -> str:
    """A cell a spreadsheet shows as text, never runs as a formula."""
    return "'" + cell if cell.startswith(FORMULA_STARTS) else cell


def statistics_csv(stats: Statistics) -> str:
    """Every figure as CSV rows ``section,item,figure,value`` (the JSON's structure), every
    cell neutralised."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(["section", "item", "figure", "value"])
    for row in csv_rows(statistics_dict(stats)):
        writer.writerow([neutralise("" if cell is None else str(cell)) for cell in row])
    return buffer.getvalue()


EXPORT_AUDIT_ACTION = "stats.export"


def record_export(
    session: Session,
    stats: Statistics,
    *,
    actor_label: str,
    actor_user_id: int | None,
    export_format: str = "csv",
) -> None:
    """Audit an export of the statistics: who, which range, which format (no figures)."""
    record_audit_event(
        session,
        actor_label=actor_label,
        actor_user_id=actor_user_id,
        action=EXPORT_AUDIT_ACTION,
        outcome="exported",
        object_type="statistics",
        detail={
            "from": stats.date_range.first.isoformat(),
            "to": stats.date_range.last.isoformat(),
            "format": export_format,
        },
    )
