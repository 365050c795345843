"""The referral queue: the first page a call-centre supervisor sees, and its figures as JSON."""

from __future__ import annotations

from typing import Any
from zoneinfo import ZoneInfo

from flask import Blueprint, Response, jsonify, render_template

from admin_ui.context import current_settings
from rmc_outreach.db import get_engine, session_scope
from rmc_outreach.health import check_service_health
from rmc_outreach.heartbeat import STALE_AFTER_SECONDS
from rmc_outreach.models import Priority, ReferralStatus
from rmc_outreach.queue_view import (
    DEFAULT_OLDEST_LIMIT,
    PRIORITY_LABELS,
    STATUS_LABELS,
    QueueSnapshot,
    local_today,
    queue_snapshot,
)

blueprint = Blueprint("queue", __name__)

REFRESH_SECONDS = 10


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


def _read_snapshot() -> QueueSnapshot:
    today = local_today(current_settings().timezone)
    with session_scope(read_only=True) as session:
        return queue_snapshot(session, today, DEFAULT_OLDEST_LIMIT)


@blueprint.get("/")
def queue_page() -> str:
    """The referral queue page: counts, oldest waiting referrals (masked), service health."""
    settings = current_settings()
    snapshot = _read_snapshot()
    health = check_service_health(get_engine(), settings.redis_url)
    context: dict[str, Any] = {
        "snapshot": snapshot,
        "updated_at_local": snapshot.generated_at.astimezone(ZoneInfo(settings.timezone)).strftime(
            "%H:%M:%S"
        ),
        "health": health,
        "statuses": list(ReferralStatus),
        "priorities": list(Priority),
        "status_labels": STATUS_LABELS,
        "priority_labels": PRIORITY_LABELS,
        "oldest_limit": DEFAULT_OLDEST_LIMIT,
        "refresh_seconds": REFRESH_SECONDS,
        "stale_after_seconds": int(STALE_AFTER_SECONDS),
    }
    return render_template("queue.html", **context)


@blueprint.get("/api/queue")
def queue_json() -> Response:
    """The queue page's figures as JSON (identifiers masked, as on the page)."""
    return jsonify(_read_snapshot().as_dict())
