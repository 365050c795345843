"""Every signed-in user's own account: ``/account/password`` to change their password.

Any role (the rule is attached where the blueprint is registered). The form asks for the current
password and the new one twice; refused, the page again with the message beside its field (422)
and nothing changed but the count of wrong passwords, which a wrong current password adds to
(``rmc_outreach.own_password``). Changed: every other session of the user ends, this one starts
afresh, and the page says so. The passwords are never logged, audited or shown again.
"""

from __future__ import annotations

from datetime import UTC, datetime

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from werkzeug.wrappers import Response as BaseResponse

from admin_ui.access import current_identity, restart_session
from rmc_outreach.db import session_scope
from rmc_outreach.models import User
from rmc_outreach.own_password import PasswordChangeError, change_own_password
from rmc_outreach.passwords import MAX_PASSWORD_LENGTH, MIN_PASSWORD_LENGTH
from rmc_outreach.sign_in import StaffIdentity

blueprint = Blueprint("account", __name__, url_prefix="/account")

PASSWORDS_DIFFER = "the two new passwords are not the same"
CHANGED = "Your password was changed. Any other session you had open was signed out."
# Read a little past the longest password allowed, so the strength check refuses a longer one
# rather than a silently shortened copy being stored.
MAX_FIELD_LENGTH = MAX_PASSWORD_LENGTH + 1


def _me() -> StaffIdentity:
    identity = current_identity()
    if identity is None:  # the access rule has already refused anonymous requests
        abort(403)
    return identity


def _page(error: tuple[str, str] | None = None, status: int = 200) -> tuple[str, int]:
    me = _me()
    with session_scope(read_only=True) as session:
        changed_at = session.get_one(User, me.id).password_changed_at
    page = render_template(
        "account_password.html",
        error=error,
        changed_at=changed_at,
        min_password_length=MIN_PASSWORD_LENGTH,
    )
    return page, status


@blueprint.get("/password")
def password_page() -> tuple[str, int]:
    """The form to change one's own password."""
    return _page()


@blueprint.post("/password")
def change_password() -> tuple[str, int] | BaseResponse:
    """Change one's own password; the other sessions end, this one carries on."""
    me = _me()
    current = request.form.get("current_password", "")[:MAX_FIELD_LENGTH]
    new = request.form.get("new_password", "")[:MAX_FIELD_LENGTH]
    if new != request.form.get("new_password_again", "")[:MAX_FIELD_LENGTH]:
        return _page(("new_password_again", PASSWORDS_DIFFER), 422)
    refused: PasswordChangeError | None = None
    # One transaction whatever the answer: a wrong current password's count must be kept.
    with session_scope() as session:
        try:
            change_own_password(session, me.id, current, new, moment=datetime.now(UTC))
        except PasswordChangeError as error:
            refused = error
    if refused is not None:
        return _page((refused.field, str(refused)), 422)
    if not restart_session(me.id):  # deactivated meanwhile
        abort(403)
    flash(CHANGED)
    return redirect(url_for("account.password_page"), 303)
