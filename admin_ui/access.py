"""Who may reach what: sign-in sessions, an access rule per blueprint, CSRF, session timeouts.

``register_blueprints`` (``admin_ui/__init__.py``) registers every blueprint through ``register``
with its ``AccessRule``; one app-wide ``before_request`` (``check_access``) applies the rule of
the blueprint a request is routed to, in this order:

1. a route whose blueprint has no rule is refused (403, logged): access fails closed;
2. rules that use no session (Twilio's webhooks) stop here: no cookie is read or set;
3. the session's idle and absolute timeouts (wall-clock seconds kept in the signed session
   cookie, checked here on every request): an expired session is signed out and audited;
4. the rule's roles and its per-object check (e.g. a handler's own console): anonymous page
   requests are redirected to ``/login?next=...``, anonymous JSON gets 401 JSON, a signed-in
   user without the role gets 403;
5. a user signed in with a password an admin set (a new account's, or a reset) is sent to
   ``/account/password`` (JSON: 403 saying so) until they have chosen their own;
6. state-changing requests (anything but GET/HEAD/OPTIONS) must come from our own origin and
   carry the session's CSRF token (form field ``csrf_token`` or header ``X-CSRFToken``; pages
   carry it in ``<meta name="csrf-token">``).

Requests that a page's JavaScript makes on its own (polls, partial redraws) send
``X-Background-Refresh: 1`` and do not count as activity for the idle timeout.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from flask import (
    Blueprint,
    Flask,
    Response,
    abort,
    current_app,
    g,
    jsonify,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_login import LoginManager, current_user, login_user, logout_user
from flask_wtf.csrf import CSRFError, CSRFProtect, generate_csrf
from markupsafe import Markup
from werkzeug.wrappers import Response as BaseResponse

from rmc_outreach.db import session_scope
from rmc_outreach.models import Role
from rmc_outreach.sign_in import (
    StaffIdentity,
    identity_for_token,
    load_identity,
    parse_session_token,
    record_sign_out,
    session_token,
)

log = logging.getLogger(__name__)

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
BACKGROUND_HEADER = "X-Background-Refresh"
SIGNED_IN_AT = "signed_in_at"
SEEN_AT = "seen_at"
# Activity is written back to the cookie at most this often (not on every request).
SEEN_RESOLUTION_SECONDS = 15
RULES_EXTENSION = "rmc_outreach.access_rules"
DEFAULTS: dict[str, Any] = {
    "RMC_SESSION_IDLE_SECONDS": 30 * 60,
    "RMC_SESSION_ABSOLUTE_SECONDS": 12 * 60 * 60,
    "RMC_SIGN_IN_ADDRESS_LIMIT": 50,
    "RMC_SIGN_IN_ADDRESS_WINDOW_SECONDS": 15 * 60,
}

ObjectRule = Callable[[StaffIdentity, str, Mapping[str, Any]], bool]

csrf = CSRFProtect()
login_manager = LoginManager()


@dataclass(frozen=True)
class AccessRule:
    """Who may reach a blueprint's routes.

    ``roles`` None: no sign-in needed. ``object_rule(user, method, view_args)``: a further check
    on the object a route names. ``uses_session`` False: the blueprint has its own access check
    (Twilio's signature) and never reads or sets the session cookie, nor needs a CSRF token.
    """

    description: str
    roles: frozenset[Role] | None = None
    object_rule: ObjectRule | None = None
    uses_session: bool = True


def signed_in(*roles: Role, description: str, object_rule: ObjectRule | None = None) -> AccessRule:
    """A rule for staff with one of ``roles``."""
    return AccessRule(description, frozenset(roles), object_rule)


OPEN = AccessRule("anyone, signed in or not")
TWILIO_SIGNATURE = AccessRule(
    "Twilio only: X-Twilio-Signature checked by the blueprint", uses_session=False
)
STATIC = AccessRule("anyone: stylesheets, scripts and icons", uses_session=False)


def own_console_or_look(user: StaffIdentity, method: str, view_args: Mapping[str, Any]) -> bool:
    """A handler uses their own console only; supervisors and admins may look at any console
    (each look is audited by the console) but never act in another handler's name."""
    handler_id = view_args.get("handler_id")
    if handler_id is None or handler_id == user.handler_id:
        return True
    return method in SAFE_METHODS and user.role in (Role.SUPERVISOR, Role.ADMIN)


class SignedInUser:
    """What Flask-Login keeps as ``current_user``: the identity, read fresh each request."""

    is_authenticated = True
    is_active = True
    is_anonymous = False

    def __init__(self, identity: StaffIdentity) -> None:
        self.identity = identity

    def get_id(self) -> str:
        """The id Flask-Login keeps in the session."""
        return session_token(self.identity)


def _load_user(token: str) -> SignedInUser | None:
    if parse_session_token(token) is None:
        return None
    with session_scope(read_only=True) as db_session:
        identity = identity_for_token(db_session, token)
    return SignedInUser(identity) if identity is not None else None


def install(app: Flask) -> None:
    """Sessions, CSRF and the access check for every request."""
    for key, value in DEFAULTS.items():
        app.config.setdefault(key, value)
    app.config.update(
        # The check runs in check_access, after the role check (so anonymous gets 401, not 400).
        WTF_CSRF_CHECK_DEFAULT=False,
        # A token lives as long as the session; the session's own timeouts bound it.
        WTF_CSRF_TIME_LIMIT=None,
        # Our Referrer-Policy sends no Referer: the origin check below does that job instead.
        WTF_CSRF_SSL_STRICT=False,
    )
    app.extensions[RULES_EXTENSION] = {}
    login_manager.session_protection = "strong"
    login_manager.user_loader(_load_user)
    login_manager.init_app(app)
    csrf.init_app(app)
    app.before_request(check_access)
    app.register_error_handler(CSRFError, _csrf_refused)
    app.context_processor(_template_helpers)


def register(app: Flask, blueprint: Blueprint, rule: AccessRule) -> None:
    """Register a blueprint together with its access rule."""
    app.register_blueprint(blueprint)
    app.extensions[RULES_EXTENSION][blueprint.name] = rule


def rule_for_endpoint(endpoint: str) -> AccessRule | None:
    """The rule guarding an endpoint ("blueprint.view"), or None when there is none."""
    if endpoint == "static":
        return STATIC
    blueprint, dot, _ = endpoint.rpartition(".")
    rules: dict[str, AccessRule] = current_app.extensions[RULES_EXTENSION]
    return rules.get(blueprint) if dot else None


def current_identity() -> StaffIdentity | None:
    """The signed-in user, or None."""
    if not current_user.is_authenticated:
        return None
    identity: StaffIdentity = current_user.identity
    return identity


def may_visit(endpoint: str, **view_args: Any) -> bool:
    """Whether the signed-in user may GET this endpoint (menus show only what they may open)."""
    rule = rule_for_endpoint(endpoint)
    if rule is None:
        return False
    if rule.roles is None:
        return True
    user = current_identity()
    if user is None or user.role not in rule.roles:
        return False
    if user.must_change_password and endpoint not in CHANGE_PASSWORD_ENDPOINTS:
        return False
    return rule.object_rule is None or rule.object_rule(user, "GET", view_args)


def check_access() -> BaseResponse | None:
    """Apply the access rule of the requested route (module docstring)."""
    if request.endpoint is None:
        return None  # no route: 404 or 405 follows
    rule = rule_for_endpoint(request.endpoint)
    if rule is None:
        log.error("no access rule for endpoint %s: refused", request.endpoint)
        abort(403)
    if not rule.uses_session:
        return None
    _enforce_timeouts()
    if rule.roles is not None:
        user = current_identity()
        if user is None:
            return _refuse_anonymous()
        allowed = user.role in rule.roles and (
            rule.object_rule is None
            or rule.object_rule(user, request.method, request.view_args or {})
        )
        if not allowed:
            return forbidden("Your role does not give access to this page.")
        if user.must_change_password and request.endpoint not in CHANGE_PASSWORD_ENDPOINTS:
            return _change_password_first()
    if request.method not in SAFE_METHODS:
        _check_same_origin()
        csrf.protect()
    return None


# Where a user whose password an admin set may go before choosing their own (besides the open
# routes: signing out, the session's CSRF token, static files).
CHANGE_PASSWORD_ENDPOINTS = frozenset({"account.password_page", "account.change_password"})
MUST_CHANGE_MESSAGE = "choose your own password first: an admin set the one you signed in with"


def _change_password_first() -> BaseResponse:
    if wants_json():
        response = jsonify(
            {"error": MUST_CHANGE_MESSAGE, "change_password": url_for("account.password_page")}
        )
        response.status_code = 403
        return response
    return redirect(url_for("account.password_page"), 303)


def wants_json() -> bool:
    """JSON APIs and JSON bodies get JSON answers; browsers get pages and redirects."""
    return request.path.startswith("/api/") or request.is_json


def _refuse_anonymous() -> BaseResponse:
    if wants_json():
        response = jsonify({"error": "sign in first", "sign_in": url_for("auth.login_page")})
        response.status_code = 401
        return response
    return redirect(url_for("auth.login", next=_here()), 302)


def _here() -> str:
    return request.full_path if request.query_string else request.path


def forbidden(message: str) -> Response:
    """403, as JSON or as a page."""
    if wants_json():
        response = jsonify({"error": message})
        response.status_code = 403
        return response
    page = render_template("error.html", status=403, title="Not allowed", message=message)
    return Response(page, status=403)


def _csrf_refused(error: CSRFError) -> Response:
    log.info("CSRF check failed on %s: %s", request.endpoint, error.description)
    message = "This form has expired or did not come from this site. Reload the page and retry."
    if wants_json():
        response = jsonify({"error": message})
        response.status_code = 400
        return response
    page = render_template("error.html", status=400, title="Please try again", message=message)
    return Response(page, status=400)


def _check_same_origin() -> None:
    # Defence in depth beside the token: a POST a browser marks as cross-site is refused.
    # (Our Referrer-Policy makes browsers send "Origin: null" on our own form posts, so "null"
    # alone proves nothing and Sec-Fetch-Site decides.)
    fetch_site = request.headers.get("Sec-Fetch-Site")
    if fetch_site is not None and fetch_site not in ("same-origin", "none"):
        abort(403)
    origin = request.headers.get("Origin")
    if origin and origin != "null" and origin.rstrip("/") != request.host_url.rstrip("/"):
        abort(403)


def wall_clock() -> float:
    """Seconds since the epoch, real time (sessions expire in real minutes, whatever the
    demo's simulated clock says)."""
    return time.time()


def start_session(identity: StaffIdentity) -> None:
    """A fresh session for a user who just proved who they are: nothing carried over from
    before (no fixation), timestamps for the timeouts."""
    session.clear()
    g.pop("csrf_token", None)  # Flask-WTF's per-request copy of the old session's token
    login_user(SignedInUser(identity))
    now = wall_clock()
    session[SIGNED_IN_AT] = now
    session[SEEN_AT] = now


def restart_session(user_id: int) -> bool:
    """After the signed-in user's own password changed (which ends every session of theirs):
    this session carries on afresh under the new password's version. False when they can no
    longer sign in (deactivated meanwhile)."""
    with session_scope(read_only=True) as db_session:
        identity = load_identity(db_session, user_id)
    if identity is None:
        return False
    start_session(identity)
    return True


def end_session(reason: str) -> None:
    """Sign out: the session is emptied and the sign-out audited."""
    user = current_identity()
    logout_user()
    session.clear()
    if user is not None:
        with session_scope() as db_session:
            record_sign_out(db_session, user.id, reason=reason)


def _enforce_timeouts() -> None:
    if "_user_id" not in session:
        return
    now = wall_clock()
    signed_in_at, seen_at = session.get(SIGNED_IN_AT), session.get(SEEN_AT)
    if not isinstance(signed_in_at, int | float) or not isinstance(seen_at, int | float):
        reason = "no_timestamps"
    elif now - signed_in_at > current_app.config["RMC_SESSION_ABSOLUTE_SECONDS"]:
        reason = "absolute_timeout"
    elif now - seen_at > current_app.config["RMC_SESSION_IDLE_SECONDS"]:
        reason = "idle_timeout"
    else:
        if request.headers.get(BACKGROUND_HEADER) != "1" and (
            now - seen_at >= SEEN_RESOLUTION_SECONDS
        ):
            session[SEEN_AT] = now
        return
    token = session.get("_user_id")
    parsed = parse_session_token(token) if isinstance(token, str) else None
    logout_user()
    session.clear()
    if parsed is not None:
        with session_scope() as db_session:
            record_sign_out(db_session, parsed[0], reason=reason)


def csrf_field() -> Markup:
    """The hidden CSRF input every form carries."""
    return Markup('<input type="hidden" name="csrf_token" value="{}">').format(generate_csrf())


def _template_helpers() -> dict[str, Any]:
    return {"current_staff": current_identity(), "may_visit": may_visit, "csrf_field": csrf_field}
