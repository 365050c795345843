"""The web process: Flask app factory, every blueprint registered in one place.

``create_app()`` builds the app from settings; ``register_blueprints`` is the one function that
shows which routes exist and who may reach them.
"""

from __future__ import annotations

from flask import Flask, Response, request
from werkzeug.middleware.proxy_fix import ProxyFix

from admin_ui.context import SETTINGS_EXTENSION
from rmc_outreach import clock, db
from rmc_outreach.config import Settings, load_settings
from rmc_outreach.models import Role

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
        # __Host-: only ever sent over HTTPS, to this host, for every path (production).
        SESSION_COOKIE_NAME="__Host-rmc_session" if settings.production else "rmc_session",
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=settings.production,
        MAX_CONTENT_LENGTH=settings.intake_max_bytes,
        JSON_SORT_KEYS=False,
    )
    app.json.sort_keys = False  # type: ignore[attr-defined]
    app.extensions[SETTINGS_EXTENSION] = settings
    app.after_request(_security_headers)
    if settings.trusted_proxies:
        # The client's address (sign-in throttle, audit) and scheme as the proxies saw them;
        # only the last ``trusted_proxies`` hops are believed, so a client cannot forge them.
        hops = settings.trusted_proxies
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops)  # type: ignore[method-assign]
    register_blueprints(app)
    return app


def register_blueprints(app: Flask) -> None:
    """Register every blueprint with the access rule each one needs: the one place that shows
    who may reach every route (rules and their order of checks: ``admin_ui/access.py``).

    A blueprint registered without a rule is refused on every route (access fails closed), and
    ``tests/admin_ui/test_route_access.py`` fails until the new routes have rows in its table.
    """
    from admin_ui import access, auth
    from admin_ui.access import OPEN, TWILIO_SIGNATURE, own_console_or_look, signed_in
    from admin_ui.account import blueprint as account_blueprint
    from admin_ui.audit_log import blueprint as audit_log_blueprint
    from admin_ui.console import blueprint as console_blueprint
    from admin_ui.console import install as install_console
    from admin_ui.health import blueprint as health_blueprint
    from admin_ui.imports import blueprint as imports_blueprint
    from admin_ui.imports import install as install_imports
    from admin_ui.live import blueprint as live_blueprint
    from admin_ui.queue import blueprint as queue_blueprint
    from admin_ui.referrals import blueprint as referrals_blueprint
    from admin_ui.settings import blueprint as settings_blueprint
    from admin_ui.stats import assumptions_blueprint as stats_assumptions_blueprint
    from admin_ui.stats import blueprint as stats_blueprint
    from admin_ui.users import blueprint as users_blueprint
    from admin_ui.webhooks import blueprint as webhooks_blueprint
    from admin_ui.webhooks import install as install_webhooks

    access.install(app)
    auth.install(app)
    register = access.register
    # Open to all, always: load balancers and the demo command poll it. Shows no personal data.
    register(app, health_blueprint, OPEN)
    # Open: the sign-in form, sign-out (POST, CSRF token) and who-am-I with the CSRF token.
    register(app, auth.blueprint, OPEN)
    # Every signed-in user, whatever their role: their own password (nobody else's).
    register(
        app,
        account_blueprint,
        signed_in(
            Role.HANDLER, Role.SUPERVISOR, Role.MANAGER, Role.ADMIN, description="own account"
        ),
    )
    # Supervisors and admins: referral data, masked.
    register(app, queue_blueprint, signed_in(Role.SUPERVISOR, Role.ADMIN, description="queue"))
    # Supervisors and admins: referral search, a referral's page (every look audited), reveals
    # (POST, audited) and actions with reasons. Not managers (aggregates only), not handlers.
    register(
        app, referrals_blueprint, signed_in(Role.SUPERVISOR, Role.ADMIN, description="referrals")
    )
    # Admins only: the audit trail (ids and reasons; no clear phone or NHS numbers).
    register(app, audit_log_blueprint, signed_in(Role.ADMIN, description="audit log"))
    # Supervisors and admins: upload worklists (imported by a worker), watch their progress, read
    # the rejected rows (row, column, reason: no cell values) and download them (audited).
    install_imports(app)
    register(app, imports_blueprint, signed_in(Role.SUPERVISOR, Role.ADMIN, description="imports"))
    # Admins only: staff accounts (add, change role, deactivate, unlock, set a temporary
    # password); every change audited, and never one that leaves no active admin.
    register(app, users_blueprint, signed_in(Role.ADMIN, description="users"))
    # Admins only: calling hours, cadences, pacing limits, caller IDs and the words of messages
    # (every change checked whole before it is stored, and audited with old and new values).
    register(app, settings_blueprint, signed_in(Role.ADMIN, description="settings"))
    # Supervisors, managers and admins: counts, rates and handlers' display names only (no
    # patient), so managers, who see aggregates only, may watch it too.
    register(
        app,
        live_blueprint,
        signed_in(Role.SUPERVISOR, Role.MANAGER, Role.ADMIN, description="live view"),
    )
    # Managers, supervisors and admins: the statistics page and its CSV (audited), aggregates
    # only (no patient anywhere on them).
    register(
        app,
        stats_blueprint,
        signed_in(Role.MANAGER, Role.SUPERVISOR, Role.ADMIN, description="statistics"),
    )
    # Admins only: the assumptions behind staff time saved and cost (every change audited).
    register(
        app,
        stats_assumptions_blueprint,
        signed_in(Role.ADMIN, description="statistics assumptions"),
    )
    # Twilio only: every request must carry a valid X-Twilio-Signature over the public URL
    # (checked in the blueprint's before_request; 403 and nothing written otherwise). No session
    # cookie read or set, no CSRF token: the signature is the access rule.
    install_webhooks(app)
    register(app, webhooks_blueprint, TWILIO_SIGNATURE)
    # A handler: their own console only (the handler record linked to their user), to look and
    # to act. Supervisors and admins: any console, to look only (each look is audited), never
    # to act in a handler's name. Shows the connected patient's name and masked identifiers.
    install_console(app)
    register(
        app,
        console_blueprint,
        signed_in(
            Role.HANDLER,
            Role.SUPERVISOR,
            Role.ADMIN,
            description="handler console",
            object_rule=own_console_or_look,
        ),
    )


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
