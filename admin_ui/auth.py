"""Signing in and out: ``/login`` (a form, or JSON for scripts such as the simulated handlers),
``/logout`` (POST only) and ``/api/session`` (who is signed in, and the CSRF token to send).

Every refusal reads the same ("unknown user", "wrong password", "locked", "inactive", too many
tries from this address): the page never tells whether an account exists. The reasons are in
the audit trail (``rmc_outreach.sign_in``).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from flask import (
    Blueprint,
    Flask,
    Response,
    current_app,
    jsonify,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_wtf.csrf import generate_csrf
from werkzeug.wrappers import Response as BaseResponse

from admin_ui.access import current_identity, end_session, start_session, wants_json
from admin_ui.context import current_settings
from admin_ui.throttle import SignInThrottle
from rmc_outreach.db import session_scope
from rmc_outreach.models import Role
from rmc_outreach.passwords import MAX_PASSWORD_LENGTH
from rmc_outreach.sign_in import Refusal, StaffIdentity, record_sign_in_refusal, sign_in

blueprint = Blueprint("auth", __name__)

THROTTLE_EXTENSION = "rmc_outreach.sign_in_throttle"
REFUSED = "The username or password is not right, or the account cannot sign in just now."
THROTTLED = "Too many unsuccessful sign-ins from this computer. Wait 15 minutes and try again."
MAX_FIELD_LENGTH = MAX_PASSWORD_LENGTH  # usernames are far shorter
# Where each role starts after signing in (when no page was asked for).
LANDING = {
    Role.HANDLER: "console.console_picker",
    Role.SUPERVISOR: "queue.queue_page",
    Role.MANAGER: "live.live_page",
    Role.ADMIN: "queue.queue_page",
}


def install(app: Flask) -> None:
    """The per-address sign-in throttle, shared by the app's requests."""
    settings = app.extensions["rmc_outreach.settings"]
    app.extensions[THROTTLE_EXTENSION] = SignInThrottle(
        settings.redis_url,
        limit=app.config["RMC_SIGN_IN_ADDRESS_LIMIT"],
        window_seconds=app.config["RMC_SIGN_IN_ADDRESS_WINDOW_SECONDS"],
    )


def _throttle() -> SignInThrottle:
    throttle: SignInThrottle = current_app.extensions[THROTTLE_EXTENSION]
    return throttle


def safe_next(target: str | None) -> str | None:
    """``target`` when it is a path on this site, else None (no open redirect)."""
    if not target or len(target) > 2000 or not target.startswith("/"):
        return None
    if target.startswith(("//", "/\\")) or any(ord(c) < 32 or c == "\\" for c in target):
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc:
        return None
    return target


def _landing(identity: StaffIdentity) -> str:
    return url_for(LANDING[identity.role])


@blueprint.get("/login")
def login_page() -> BaseResponse | str:
    """The sign-in form (a signed-in user goes straight on)."""
    identity = current_identity()
    next_url = safe_next(request.args.get("next"))
    if identity is not None:
        return redirect(next_url or _landing(identity), 303)
    return render_template("login.html", next_url=next_url, error=None, username="")


@blueprint.post("/login")
def login() -> BaseResponse | str:
    """Check the username and password; on success a fresh session and on to the page asked
    for. A form post gets the page back with one message on refusal; JSON gets 401 JSON."""
    data: Any = request.get_json(silent=True) if request.is_json else request.form
    if not hasattr(data, "get"):
        data = {}
    username = str(data.get("username") or "")[:MAX_FIELD_LENGTH]
    password = str(data.get("password") or "")[:MAX_FIELD_LENGTH]
    next_url = safe_next(str(data.get("next") or "") or request.args.get("next"))
    address = request.remote_addr or "unknown"
    throttle = _throttle()
    if throttle.blocked(address):
        with session_scope() as session:
            record_sign_in_refusal(session, Refusal.THROTTLED, None)
        return _refused(THROTTLED, 429, username, next_url)
    with session_scope() as session:
        result = sign_in(session, username, password, moment=datetime.now(UTC))
    if result.identity is None:
        throttle.record_failure(address)
        return _refused(REFUSED, 401, username, next_url)
    start_session(result.identity)
    destination = next_url or _landing(result.identity)
    if wants_json():
        return jsonify({"user": _describe(result.identity), "csrf_token": generate_csrf()})
    return redirect(destination, 303)


def _refused(message: str, status: int, username: str, next_url: str | None) -> BaseResponse:
    if wants_json():
        response = jsonify({"error": message})
        response.status_code = status
        return response
    page = render_template(
        "login.html", next_url=next_url, error=message, username=username.strip()[:64]
    )
    return Response(page, status=status)


@blueprint.post("/logout")
def logout() -> BaseResponse:
    """Sign out (POST with the CSRF token, so another site cannot sign anyone out)."""
    end_session("signed_out")
    if wants_json():
        return jsonify({"signed_in": False})
    return redirect(url_for("auth.login_page"), 303)


@blueprint.get("/api/session")
def session_json() -> Response:
    """Who is signed in (or not) and the CSRF token state-changing requests must carry."""
    identity = current_identity()
    body: dict[str, Any] = {"signed_in": identity is not None, "csrf_token": generate_csrf()}
    if identity is not None:
        body["user"] = _describe(identity)
    return jsonify(body)


def _describe(identity: StaffIdentity) -> dict[str, Any]:
    return {
        "id": identity.id,
        "role": identity.role.value,
        "display_name": identity.display_name,
        "handler_id": identity.handler_id,
    }


@blueprint.app_context_processor
def demo_hint() -> dict[str, Any]:
    """Whether the sign-in page may mention the demo's accounts (never in production)."""
    return {"show_demo_hint": not current_settings().production}
