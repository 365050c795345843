"""The managers' statistics: a page of charts with their numbers, a CSV export, and the
admins' form for the assumptions behind staff time saved and cost.

Every figure comes from ``rmc_outreach.metrics.statistics_for`` (the function ``python -m
rmc_outreach stats --json`` prints); this module only lays it out. Aggregates only: no patient
appears anywhere here.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, abort, redirect, render_template, request, url_for
from werkzeug.wrappers import Response as BaseResponse

from admin_ui.access import current_identity
from admin_ui.context import current_engine_config
from admin_ui.stats_charts import AMD_LABELS, CHANNEL_LABELS, PRIORITY_LABELS, charts_for
from rmc_outreach import clock
from rmc_outreach.db import session_scope
from rmc_outreach.metrics import DateRange, RangeError, Statistics, parse_range, statistics_for
from rmc_outreach.metrics.assumptions import (
    ASSUMPTIONS,
    AssumptionError,
    load_assumptions,
    parse_assumptions,
    save_assumptions,
)
from rmc_outreach.metrics.export import record_export, statistics_csv

blueprint = Blueprint("stats", __name__)
# Admins only (registered with its own rule): changing what the figures assume.
assumptions_blueprint = Blueprint("stats_assumptions", __name__)


def _requested_range() -> tuple[DateRange | None, str | None]:
    today = current_engine_config().window.local(clock.now()).date()
    try:
        return parse_range(request.args.get("from"), request.args.get("to"), today), None
    except RangeError as error:
        return None, str(error)


def read_statistics(date_range: DateRange) -> Statistics:
    """The statistics of ``date_range``, in one read-only transaction."""
    with session_scope(read_only=True) as session:
        return statistics_for(
            session, date_range, current_engine_config(), generated_at=clock.now()
        )


@blueprint.get("/stats")
def stats_page() -> tuple[str, int] | str:
    """Reach, time to reach, staff time saved, handoffs, AMD mix, cost and trends for a range
    of days (GET ``from`` and ``to``; the last 28 days by default)."""
    date_range, error = _requested_range()
    if date_range is None:
        page = render_template(
            "stats.html",
            stats=None,
            figures=None,
            error=error,
            form_from=request.args.get("from", ""),
            form_to=request.args.get("to", ""),
        )
        return page, 400
    stats = read_statistics(date_range)
    figures = stats.as_dict()
    context: dict[str, Any] = {
        "stats": stats,
        "figures": figures,
        "charts": charts_for(figures),
        "assumption_list": ASSUMPTIONS,
        "channel_labels": CHANNEL_LABELS,
        "priority_labels": PRIORITY_LABELS,
        "amd_labels": AMD_LABELS,
        "error": None,
        "form_from": date_range.first.isoformat(),
        "form_to": date_range.last.isoformat(),
    }
    return render_template("stats.html", **context)


@blueprint.get("/stats.csv")
def stats_csv() -> Response:
    """Every figure of the range as CSV (cells neutralised against formulas); audited."""
    date_range, error = _requested_range()
    if date_range is None:
        return Response(f"{error}\n", status=400, mimetype="text/plain")
    stats = read_statistics(date_range)
    user = current_identity()
    with session_scope() as session:
        record_export(
            session,
            stats,
            actor_label=user.actor_label if user else "unknown",
            actor_user_id=user.id if user else None,
        )
    name = f"rmc-statistics-{date_range.first.isoformat()}-to-{date_range.last.isoformat()}.csv"
    return Response(
        statistics_csv(stats),
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


@assumptions_blueprint.get("/stats/assumptions")
def assumptions_form() -> str:
    """The assumptions in force, in a form an admin may change."""
    with session_scope(read_only=True) as session:
        values = load_assumptions(session).as_dict()
    return render_template(
        "stats_assumptions.html",
        assumption_list=ASSUMPTIONS,
        values={name: f"{value:g}" for name, value in values.items()},
        error=None,
        error_field=None,
        saved=request.args.get("saved") == "1",
    )


@assumptions_blueprint.post("/stats/assumptions")
def save_assumptions_form() -> tuple[str, int] | BaseResponse:
    """Store an admin's assumptions (audited with old and new values); the form again with the
    reason when a value is not usable (nothing is stored then)."""
    user = current_identity()
    if user is None:  # the access rule has already refused anonymous requests
        abort(403)
    form = {a.name: request.form.get(a.name, "") for a in ASSUMPTIONS}
    try:
        values = parse_assumptions(form)
    except AssumptionError as error:
        page = render_template(
            "stats_assumptions.html",
            assumption_list=ASSUMPTIONS,
            values=form,
            error=str(error),
            error_field=error.name,
            saved=False,
        )
        return page, 422
    with session_scope() as session:
        save_assumptions(session, values, actor_label=user.actor_label, actor_user_id=user.id)
    return redirect(url_for("stats_assumptions.assumptions_form", saved=1), 303)
