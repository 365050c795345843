"""The web process: Flask app factory, every blueprint registered in one place.

``create_app()`` builds the app from settings; ``register_blueprints`` is the one function that
shows which routes exist and who may reach them.
"""

from __future__ import annotations

from flask import Flask, Response, request

from admin_ui.context import SETTINGS_EXTENSION
from rmc_outreach import clock, db
from rmc_outreach.config import Settings, load_settings

CONTENT_SECURITY_POLICY = (
    "default-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
)
STATIC_URL_PREFIX = "/static/"


def create_app(settings: Settings | None = None) -> Flask:
    """Build the web app. Settings come from the environment unless given (tests give them)."""
    settings = settings or load_settings()
    clock.configure_clock(settings)
    # Reuse the process's engine (tests install theirs first); only build one when there is none
    # yet, or the one there points elsewhere.
    if not db.is_configured_for(settings.database_url):
        db.configure(settings)

    app = Flask(__name__)
    app.config.update(
        SECRET_KEY=settings.secret_key,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=settings.production,
        MAX_CONTENT_LENGTH=settings.intake_max_bytes,
        JSON_SORT_KEYS=False,
    )
    app.json.sort_keys = False  # type: ignore[attr-defined]
    app.extensions[SETTINGS_EXTENSION] = settings
    app.after_request(_security_headers)
    register_blueprints(app)
    return app


def register_blueprints(app: Flask) -> None:
    """Register every blueprint, with the access rule each one needs.

    Authentication arrives in a later issue; until then every page is open, so the service must
    only listen on 127.0.0.1. When it lands, this is where it attaches: a ``before_request`` on
    each blueprint requiring the role written next to it.
    """
    from admin_ui.console import blueprint as console_blueprint
    from admin_ui.console import install as install_console
    from admin_ui.health import blueprint as health_blueprint
    from admin_ui.live import blueprint as live_blueprint
    from admin_ui.queue import blueprint as queue_blueprint
    from admin_ui.webhooks import blueprint as webhooks_blueprint
    from admin_ui.webhooks import install as install_webhooks

    # Open to all, always: load balancers and the demo command poll it. Shows no personal data.
    app.register_blueprint(health_blueprint)
    # Supervisor and above (once auth lands): masked referral data.
    app.register_blueprint(queue_blueprint)
    # Supervisor and above (once auth lands): counts, rates and handlers' display names only.
    app.register_blueprint(live_blueprint)
    # Twilio only: every request must carry a valid X-Twilio-Signature over the public URL
    # (checked in the blueprint's before_request; 403 and nothing written otherwise). No session
    # cookie, no user login: the signature is the access rule.
    install_webhooks(app)
    app.register_blueprint(webhooks_blueprint)
    # Handlers (once auth lands: the signed-in handler's own console only; supervisors may
    # look). Shows the connected patient's name and masked identifiers; every look is audited.
    # POSTs from another site are refused in the blueprint's before_request (CSRF token: issue 5).
    install_console(app)
    app.register_blueprint(console_blueprint)


def _security_headers(response: Response) -> Response:
    headers = response.headers
    headers["Content-Security-Policy"] = CONTENT_SECURITY_POLICY
    headers["X-Content-Type-Options"] = "nosniff"
    headers["Referrer-Policy"] = "no-referrer"
    headers["X-Frame-Options"] = "DENY"
    headers["Cross-Origin-Opener-Policy"] = "same-origin"
    headers["Cross-Origin-Resource-Policy"] = "same-origin"
    if request.scheme == "https":
        headers["Strict-Transport-Security"] = "max-age=31536000; includeSubDomains"
    # Pages and JSON may show personal data: never store them in any cache. Static files may be
    # cached (they are revalidated by ETag).
    if not request.path.startswith(STATIC_URL_PREFIX):
        headers["Cache-Control"] = "no-store"
        headers["Pragma"] = "no-cache"
    return response
