"""Admins manage staff accounts: ``/admin/users`` (the list and a form to add a user) and
``/admin/users/<id>`` (change role, deactivate or reactivate, unlock, set a temporary password).

Admins only (the rule is attached where the blueprint is registered). Every change is a POST
(CSRF-checked by ``admin_ui.access``), audited by ``rmc_outreach.user_admin`` or
``rmc_outreach.accounts``, and answered with 303 back to the user's page and a message; refused,
the page again with the error beside its field (422; 409 when it would leave no active admin)
and nothing written. Passwords are never logged, audited or shown again.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from werkzeug.wrappers import Response as BaseResponse

from admin_ui.access import current_identity, restart_session
from admin_ui.context import current_settings
from rmc_outreach import user_admin
from rmc_outreach.accounts import AccountError, create_user, give_handler_record
from rmc_outreach.db import session_scope
from rmc_outreach.models import Role
from rmc_outreach.passwords import MIN_PASSWORD_LENGTH
from rmc_outreach.user_admin import Actor, UserNotFound, UserRow

blueprint = Blueprint("admin_users", __name__, url_prefix="/admin/users")

ROLE_LABELS = {
    Role.HANDLER: "Handler: their own console only",
    Role.SUPERVISOR: "Supervisor: referrals, the queue, the live view, imports",
    Role.MANAGER: "Manager: statistics and the live view's figures only",
    Role.ADMIN: "Admin: everything, and users, settings and the audit log",
}
PASSWORDS_DIFFER = "the two passwords are not the same"
# Which form field a message from create_user is about (it says so in its first words).
_CREATE_FIELDS = (
    ("username", "username"),
    ("a user named", "username"),
    ("display name", "display_name"),
    ("role", "role"),
    ("password", "password"),
)


def _moment() -> datetime:
    # Lockouts are about real minutes (rmc_outreach.sign_in), whatever the demo's clock says.
    return datetime.now(UTC)


def _actor() -> Actor:
    user = current_identity()
    if user is None:  # the access rule has already refused anonymous requests
        abort(403)
    return Actor(label=user.actor_label, user_id=user.id)


def _common() -> dict[str, Any]:
    return {
        "roles": list(Role),
        "role_labels": ROLE_LABELS,
        "min_password_length": MIN_PASSWORD_LENGTH,
    }


def _list_page(
    form: dict[str, str] | None = None,
    error: tuple[str, str] | None = None,
    status: int = 200,
) -> tuple[str, int]:
    with session_scope(read_only=True) as session:
        users = user_admin.list_users(session, moment=_moment())
    page = render_template(
        "admin_users.html", users=users, form=form or {}, error=error, **_common()
    )
    return page, status


@blueprint.get("")
def users_page() -> tuple[str, int]:
    """Every user (username, display name, role, active, locked) and the form to add one."""
    return _list_page()


def _passwords() -> str:
    password = request.form.get("password", "")
    if password != request.form.get("password_again", ""):
        raise AccountError(PASSWORDS_DIFFER)
    return password


@blueprint.post("")
def create() -> tuple[str, int] | BaseResponse:
    """Add a user with a role (a handler gets their handler record and console too)."""
    actor = _actor()
    form = {
        name: request.form.get(name, "").strip()
        for name in ("username", "display_name", "role", "endpoint")
    }
    settings = current_settings()
    try:
        password = _passwords()
    except AccountError as error:
        return _list_page(form, ("password", str(error)), 422)
    if form["role"] == Role.HANDLER.value and not form["endpoint"]:
        message = "a handler needs an endpoint: the phone number, SIP address or client:name"
        return _list_page(form, ("endpoint", message), 422)
    if form["endpoint"] and form["role"] != Role.HANDLER.value:
        return _list_page(form, ("endpoint", "an endpoint is for the handler role only"), 422)
    try:
        with session_scope() as session:
            try:
                user = create_user(
                    session,
                    username=form["username"],
                    display_name=form["display_name"] or form["username"],
                    role=form["role"],
                    password=password,
                    actor_label=actor.label,
                    temporary_password=True,
                )
            except AccountError as error:
                raise _FieldError(_create_field(str(error)), str(error)) from error
            if form["endpoint"]:
                try:
                    give_handler_record(
                        session,
                        user,
                        form["endpoint"],
                        allow_fictional=not settings.production,
                        actor_label=actor.label,
                    )
                except AccountError as error:
                    raise _FieldError("endpoint", str(error)) from error
            user_id, username = user.id, user.username
    except _FieldError as error:
        return _list_page(form, (error.field, error.message), 422)
    flash(f"User {username} was added.")
    return redirect(url_for("admin_users.user_page", user_id=user_id), 303)


class _FieldError(Exception):
    """A refusal about one form field (rolls the transaction back)."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


def _create_field(message: str) -> str:
    return next((field for start, field in _CREATE_FIELDS if message.startswith(start)), "username")


def _user_or_404(user_id: int) -> UserRow:
    with session_scope(read_only=True) as session:
        try:
            return user_admin.user_row(session, user_id, moment=_moment())
        except UserNotFound:
            abort(404)


def _user_page(
    user_id: int, error: tuple[str, str] | None = None, status: int = 200
) -> tuple[str, int]:
    staff = _user_or_404(user_id)
    current = current_identity()
    page = render_template(
        "admin_user.html",
        staff=staff,
        error=error,
        is_me=current is not None and current.id == staff.id,
        **_common(),
    )
    return page, status


@blueprint.get("/<int:user_id>")
def user_page(user_id: int) -> tuple[str, int]:
    """One user, with the forms that change their account."""
    return _user_page(user_id)


def _act(user_id: int, field: str, action: Any, done: str) -> tuple[str, int] | BaseResponse:
    """Run one change in its own transaction: 303 with ``done`` on success, the page with the
    error beside ``field`` when refused (409 for the last admin, else 422)."""
    _user_or_404(user_id)
    try:
        with session_scope() as session:
            action(session)
    except AccountError as error:
        status = 409 if str(error) == user_admin.LAST_ADMIN else 422
        return _user_page(user_id, (field, str(error)), status)
    flash(done)
    return redirect(url_for("admin_users.user_page", user_id=user_id), 303)


@blueprint.post("/<int:user_id>/role")
def change_role(user_id: int) -> tuple[str, int] | BaseResponse:
    """Give the user another role (a new handler needs an endpoint)."""
    actor = _actor()
    role = request.form.get("role", "")
    endpoint = request.form.get("endpoint", "")
    production = current_settings().production
    return _act(
        user_id,
        "role",
        lambda session: user_admin.change_role(
            session,
            user_id,
            role,
            actor=actor,
            endpoint=endpoint,
            allow_fictional=not production,
        ),
        "The role was changed.",
    )


@blueprint.post("/<int:user_id>/deactivate")
def deactivate(user_id: int) -> tuple[str, int] | BaseResponse:
    """Stop the user signing in (their sessions end at their next request)."""
    actor = _actor()
    return _act(
        user_id,
        "active",
        lambda session: user_admin.set_active(session, user_id, False, actor=actor),
        "The user was deactivated: they are signed out and cannot sign in.",
    )


@blueprint.post("/<int:user_id>/reactivate")
def reactivate(user_id: int) -> tuple[str, int] | BaseResponse:
    """Let a deactivated user sign in again."""
    actor = _actor()
    return _act(
        user_id,
        "active",
        lambda session: user_admin.set_active(session, user_id, True, actor=actor),
        "The user was reactivated: they can sign in again.",
    )


@blueprint.post("/<int:user_id>/unlock")
def unlock(user_id: int) -> tuple[str, int] | BaseResponse:
    """End the user's sign-in lockout."""
    actor = _actor()
    return _act(
        user_id,
        "unlock",
        lambda session: user_admin.unlock(session, user_id, actor=actor),
        "The user was unlocked: they can sign in again now.",
    )


@blueprint.post("/<int:user_id>/password")
def reset_password(user_id: int) -> tuple[str, int] | BaseResponse:
    """Set a temporary password the admin hands over in person."""
    actor = _actor()

    def reset(session: Any) -> None:
        user_admin.reset_password(session, user_id, _passwords(), actor=actor)

    answer = _act(
        user_id,
        "password",
        reset,
        "The password was set. Give it to the user in person; it is not shown again. "
        "Any session they had open was signed out.",
    )
    # Their own: the reset ended every session of theirs, this one carries on afresh.
    if actor.user_id == user_id and isinstance(answer, BaseResponse) and restart_session(user_id):
        flash("Your password was set. Any other session you had open was signed out.")
    return answer
