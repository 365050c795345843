"""Staff change their own password: the current one first, then a new one that passes the
strength check and differs from it.

A wrong current password counts as a failed sign-in (``sign_in.count_failure``): a session left
open on a shared desk cannot be used to guess at it without locking the account. A change ends
every other session of the user at its next request (the password's version moves on); the
caller starts the current one afresh. Audited as ``user.password_change`` with the user's id
only; the passwords are never recorded.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from rmc_outreach.accounts import set_password
from rmc_outreach.audit import record_audit_event
from rmc_outreach.models import User
from rmc_outreach.passwords import WeakPasswordError, check_password_strength, verify_password
from rmc_outreach.sign_in import count_failure, user_actor

CHANGE_ACTION = "user.password_change"
WRONG_CURRENT = "that is not your current password"
SAME_AS_CURRENT = "the new password must differ from the current one"
LOCKED = "your account is locked after too many wrong passwords: sign in again later"


class PasswordChangeError(ValueError):
    """The change was refused; ``field`` is the form field the message is about."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


def change_own_password(
    session: Session, user_id: int, current: str, new: str, *, moment: datetime
) -> None:
    """Change a signed-in user's password. Raises PasswordChangeError (nothing changed but a
    wrong guess's count: commit the transaction whatever the answer)."""
    user = session.get(User, user_id, with_for_update=True)
    if user is None or not user.active:
        raise PasswordChangeError("current_password", WRONG_CURRENT)
    if user.locked_until is not None and user.locked_until > moment:
        raise PasswordChangeError("current_password", LOCKED)
    if not verify_password(current, user.password_hash):
        count_failure(session, user, moment)
        raise PasswordChangeError("current_password", WRONG_CURRENT)
    try:
        check_password_strength(new)
    except WeakPasswordError as error:
        raise PasswordChangeError("new_password", str(error)) from error
    if new == current:
        raise PasswordChangeError("new_password", SAME_AS_CURRENT)
    user.failed_sign_ins = 0
    set_password(user, new, moment=moment)
    record_audit_event(
        session,
        actor_label=user_actor(user.id),
        actor_user_id=user.id,
        action=CHANGE_ACTION,
        outcome="success",
        object_type="user",
        object_id=user.id,
        detail={},
    )
