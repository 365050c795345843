"""The referral queue: the first page a call-centre supervisor sees, and its figures as JSON."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from flask import Blueprint, Response, jsonify, render_template

from admin_ui.context import current_engine_config, current_settings
from rmc_outreach import clock
from rmc_outreach.activity import (
    ActivitySnapshot,
    ServiceClock,
    activity_snapshot,
    callback_reason_label,
    local_day,
    service_clock,
)
from rmc_outreach.config import Settings
from rmc_outreach.db import get_engine, session_scope
from rmc_outreach.health import check_service_health
from rmc_outreach.heartbeat import STALE_AFTER_SECONDS
from rmc_outreach.models import Priority, ReferralStatus
from rmc_outreach.queue_view import (
    DEFAULT_OLDEST_LIMIT,
    PRIORITY_LABELS,
    STATUS_LABELS,
    QueueSnapshot,
    queue_snapshot,
)

blueprint = Blueprint("queue", __name__)

REFRESH_SECONDS = 10
# The demo's simulated clock runs days in minutes: refresh faster so the page keeps up.
SIMULATED_CLOCK_REFRESH_SECONDS = 5


@blueprint.app_template_filter("age")
def describe_age(seconds: float) -> str:
    """A short, human age: "4 s", "3 min", "2 h", "5 days"."""
    whole = int(seconds)
    if whole < 60:
        return f"{whole} s"
    if whole < 3600:
        return f"{whole // 60} min"
    if whole < 86400:
        return f"{whole // 3600} h"
    days = whole // 86400
    return f"{days} day" if days == 1 else f"{days} days"


@blueprint.app_template_filter("short_day")
def short_day(day: date) -> str:
    """A day as staff write it: "Mon 30 Nov"."""
    return f"{day:%a} {day.day} {day:%b}"


@blueprint.app_template_filter("long_day")
def long_day(day: date) -> str:
    """A day in full: "Monday 30 November"."""
    return f"{day:%A} {day.day} {day:%B}"


@blueprint.app_template_filter("day_and_time")
def day_and_time(moment: datetime) -> str:
    """A local moment as "Mon 30 Nov 10:42"."""
    return f"{short_day(moment)} {moment:%H:%M}"


@blueprint.app_template_filter("rate")
def describe_rate(rate: float) -> str:
    """How much faster than real time a simulated clock runs: "30" and a multiplication sign."""
    return f"{rate:g}\N{MULTIPLICATION SIGN}"


@dataclass(frozen=True)
class QueuePageData:
    """Everything the queue page and its JSON show, read at one moment."""

    snapshot: QueueSnapshot
    activity: ActivitySnapshot
    service_clock: ServiceClock

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready, masked; activity figures are counts only."""
        return {
            **self.snapshot.as_dict(),
            **self.activity.as_dict(),
            "clock": self.service_clock.as_dict(),
        }


def _simulated_rate(settings: Settings) -> float | None:
    simulated = clock.simulated_clock()
    if settings.clock_mode != "simulated" or simulated is None:
        return None
    return simulated.rate


def _read_page_data() -> QueuePageData:
    settings = current_settings()
    config = current_engine_config()
    moment = clock.now()
    day = local_day(moment, settings.timezone)
    with session_scope(read_only=True) as session:
        snapshot = queue_snapshot(session, day.day, DEFAULT_OLDEST_LIMIT, generated_at=moment)
        activity = activity_snapshot(session, day)
    last_batch = activity.print_queue.last_batch
    times = service_clock(
        config.window,
        moment,
        cut_time=config.print_cut_time,
        last_batch_day=last_batch.day if last_batch else None,
        simulated_rate=_simulated_rate(settings),
    )
    return QueuePageData(snapshot, activity, times)


@blueprint.get("/")
def queue_page() -> str:
    """The referral queue page: counts, outreach today and under way now, the oldest waiting
    referrals (masked), the clock and calling window, service health."""
    settings = current_settings()
    data = _read_page_data()
    health = check_service_health(get_engine(), settings.redis_url)
    times = data.service_clock
    context: dict[str, Any] = {
        "snapshot": data.snapshot,
        "activity": data.activity,
        "times": times,
        "timezone": settings.timezone,
        "updated_at_local": times.now.strftime("%H:%M:%S"),
        "health": health,
        "statuses": list(ReferralStatus),
        "priorities": list(Priority),
        "status_labels": STATUS_LABELS,
        "priority_labels": PRIORITY_LABELS,
        "callback_reason_label": callback_reason_label,
        "oldest_limit": DEFAULT_OLDEST_LIMIT,
        "refresh_seconds": SIMULATED_CLOCK_REFRESH_SECONDS if times.simulated else REFRESH_SECONDS,
        "stale_after_seconds": int(STALE_AFTER_SECONDS),
    }
    return render_template("queue.html", **context)


@blueprint.get("/api/queue")
def queue_json() -> Response:
    """The queue page's figures as JSON (identifiers masked, as on the page)."""
    return jsonify(_read_page_data().as_dict())
