"""The supervisors' live view: the floor now and today, as a page and as JSON polled every 2 s."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, jsonify, render_template

from admin_ui.context import current_engine_config
from rmc_outreach import clock
from rmc_outreach.db import session_scope
from rmc_outreach.live_view import HANDLER_STATE_LABELS, LiveSnapshot, live_snapshot
from rmc_outreach.live_view.alerts import percent
from rmc_outreach.models import ReferralStatus
from rmc_outreach.queue_view import STATUS_LABELS

blueprint = Blueprint("live", __name__)

# The page asks for /api/live this often (live.js); without JavaScript it reloads itself less
# often, as a whole page every two seconds would make it hard to read.
POLL_SECONDS = 2
NOSCRIPT_REFRESH_SECONDS = 5


@blueprint.app_template_filter("duration")
def describe_duration(seconds: int | None) -> str:
    """A wait or a time in state: "42 s", "3 min 05 s", "2 h 07 min"; a dash when none.

    Kept in step with ``formatDuration`` in static/live.js, which redraws the same figures.
    """
    if seconds is None:
        return "\N{EN DASH}"
    if seconds < 60:
        return f"{seconds} s"
    if seconds < 3600:
        return f"{seconds // 60} min {seconds % 60:02d} s"
    return f"{seconds // 3600} h {seconds % 3600 // 60:02d} min"


@blueprint.app_template_filter("percent")
def describe_percent(rate: float | None) -> str:
    """A rate as a percentage with one decimal ("2.5%"); a dash when there is no rate yet.

    Kept in step with ``formatPercent`` in static/live.js.
    """
    return "\N{EN DASH}" if rate is None else f"{rate * 100:.1f}%"


@blueprint.app_template_filter("ratio")
def describe_ratio(ratio: float | None) -> str:
    """Calls per available handler with one decimal; a dash when no handler is available."""
    return "\N{EN DASH}" if ratio is None else f"{ratio:.1f}"


@blueprint.app_template_filter("format_figure")
def format_figure(value: float | str | None, format: str) -> str:
    """A figure in one of the live view's formats: count, duration, percent, ratio or text."""
    if format == "text" or isinstance(value, str):
        return "\N{EN DASH}" if value is None else str(value)
    if format == "duration":
        return describe_duration(None if value is None else int(value))
    if format == "percent":
        return describe_percent(value)
    if format == "ratio":
        return describe_ratio(value)
    return str(value)


def read_live_snapshot() -> LiveSnapshot:
    """The live snapshot now, in one read-only transaction."""
    config = current_engine_config()
    with session_scope(read_only=True) as session:
        return live_snapshot(
            session,
            clock.now(),
            config.window,
            abandoned_rate_cap=config.abandoned_rate_cap,
            hold_wait=config.hold_wait,
            config=config,
        )


@blueprint.get("/live")
def live_page() -> str:
    """The live view: alerts, calls now, handlers, today's rates and attempts, callbacks and
    referrals by status. Figures are rendered here; live.js keeps them current."""
    snapshot = read_live_snapshot()
    context: dict[str, Any] = {
        "live": snapshot,
        "statuses": list(ReferralStatus),
        "status_labels": STATUS_LABELS,
        "handler_state_labels": HANDLER_STATE_LABELS,
        "cap_text": percent(snapshot.abandoned.cap),
        "poll_seconds": POLL_SECONDS,
        "noscript_refresh_seconds": NOSCRIPT_REFRESH_SECONDS,
    }
    return render_template("live.html", **context)


@blueprint.get("/api/live")
def live_json() -> Response:
    """The live view's snapshot as JSON: counts, rates, seconds and handlers' display names."""
    return jsonify(read_live_snapshot().as_dict())
