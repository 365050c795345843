"""The statistics page's charts, drawn from the JSON figures (``Statistics.as_dict``) so the
charts, the tables beside them and ``stats --json`` show the very same numbers."""

from __future__ import annotations

from datetime import date
from typing import Any

from admin_ui.charts import Chart, columns, rows

PRIORITY_LABELS = {"2ww": "Two-week wait", "urgent": "Urgent", "routine": "Routine"}
CHANNEL_LABELS = {"call": "Call", "sms": "Text (SMS)", "letter": "Letter"}
AMD_LABELS = {
    "human": "A person",
    "machine_start": "Machine (detected at start)",
    "machine_end_beep": "Machine, beep",
    "machine_end_silence": "Machine, silence",
    "machine_end_other": "Machine, other",
    "fax": "Fax",
    "unknown": "Unknown",
    "none": "No answer or no result",
}


def percent(rate: float | None) -> str:
    """A rate as "12.5%"; a dash when there is none."""
    return "\N{EN DASH}" if rate is None else f"{rate * 100:.1f}%"


def _short_day(iso: str) -> str:
    day = date.fromisoformat(iso)
    return f"{day.day} {day:%b}"


def _rate_rows(
    chart_id: str, title: str, found: list[dict[str, Any]], key: str, labels: dict[str, str]
) -> Chart:
    items = [
        (
            labels.get(row[key], row[key]),
            row["rate"],
            f"{percent(row['rate'])} of {row['referrals']}",
        )
        for row in found
    ]
    description = "; ".join(f"{label}: {text}" for label, _, text in items)
    return rows(chart_id, title, description or "No referrals.", items, maximum=1.0)


def charts_for(figures: dict[str, Any]) -> dict[str, Chart]:
    """Every chart of the page, by name."""
    reach = figures["reach"]
    trends = figures["trends"]
    days = trends["days"]
    label_every = max(1, len(days) // 10)
    attempts_per_day = [
        (_short_day(day["period"]), day["calls"] + day["sms"] + day["letters"], "") for day in days
    ]
    attempts_per_day = [(label, value, str(value)) for label, value, _ in attempts_per_day]
    weekly_reach = [
        (f"w/c {_short_day(week['period'])}", week["reach_rate"], percent(week["reach_rate"]))
        for week in trends["weeks"]
    ]
    buckets = reach["time_to_reach"]["buckets"]
    amd = figures["attempts"]["amd"]
    return {
        "reach_by_channel": rows(
            "chart-reach-channel",
            "Patients reached, by the channel that reached them",
            "; ".join(
                f"{CHANNEL_LABELS.get(r['channel'], r['channel'])}: {percent(r['rate'])}"
                for r in reach["by_channel"]
            )
            or "Nobody reached.",
            [
                (CHANNEL_LABELS.get(r["channel"], r["channel"]), r["rate"], percent(r["rate"]))
                for r in reach["by_channel"]
            ],
            maximum=1.0,
        ),
        "reach_by_attempt": rows(
            "chart-reach-attempt",
            "Reached on each attempt, of those who had that attempt",
            "; ".join(f"Attempt {r['attempt']}: {percent(r['rate'])}" for r in reach["by_attempt"])
            or "No attempts.",
            [
                (f"Attempt {r['attempt']}", r["rate"], percent(r["rate"]))
                for r in reach["by_attempt"]
            ],
            maximum=1.0,
        ),
        "reach_by_priority": _rate_rows(
            "chart-reach-priority",
            "Reach rate by priority",
            reach["by_priority"],
            "priority",
            PRIORITY_LABELS,
        ),
        "reach_by_specialty": _rate_rows(
            "chart-reach-specialty",
            "Reach rate by specialty",
            reach["by_specialty"],
            "specialty",
            {},
        ),
        "reach_by_week": columns(
            "chart-reach-week",
            "Reach rate by week first contacted",
            "; ".join(f"{label}: {text}" for label, _, text in weekly_reach) or "No weeks.",
            weekly_reach,
            maximum=1.0,
        ),
        "time_to_reach": columns(
            "chart-time-to-reach",
            "How long reaching a patient took",
            "; ".join(f"{b['label']}: {b['reached']}" for b in buckets),
            [
                (
                    b["label"].replace(" hours", " h").replace(" days", " d"),
                    b["reached"],
                    str(b["reached"]),
                )
                for b in buckets
            ],
        ),
        "attempts_per_day": columns(
            "chart-attempts-day",
            "Attempts made each day",
            "; ".join(f"{label}: {text}" for label, _, text in attempts_per_day),
            attempts_per_day,
            label_every=label_every,
        ),
        "amd": rows(
            "chart-amd",
            "Who or what answered the calls (answering-machine detection)",
            "; ".join(f"{AMD_LABELS.get(k, k)}: {n}" for k, n in amd.items()) or "No calls.",
            [(AMD_LABELS.get(k, k), n, str(n)) for k, n in amd.items()],
        ),
    }
