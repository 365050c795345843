"""``/healthz``: is this web process able to serve? JSON, 200 when yes, 503 when not."""

from __future__ import annotations

from flask import Blueprint, Response, jsonify

from admin_ui.context import current_settings
from rmc_outreach.db import get_engine
from rmc_outreach.health import check_service_health

blueprint = Blueprint("health", __name__)


@blueprint.get("/healthz")
def healthz() -> tuple[Response, int]:
    """Database and Redis reachability (decides the status code), plus worker and beat heartbeats
    (reported only: the web can serve pages while workers are down)."""
    health = check_service_health(get_engine(), current_settings().redis_url)
    return jsonify(health.as_dict()), 200 if health.ok else 503
