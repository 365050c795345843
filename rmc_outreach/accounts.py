"""Staff accounts: creating users (and their handler record when they take calls)."""

from __future__ import annotations

import re
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from rmc_outreach.audit import record_audit_event
from rmc_outreach.handlers import HandlerError, create_handler
from rmc_outreach.models import Handler, Role, User
from rmc_outreach.passwords import check_password_strength, hash_password

USERNAME_PATTERN = re.compile(r"^[a-z0-9][a-z0-9._-]{1,63}$")


class AccountError(ValueError):
    """A user cannot be created as asked; the message says why."""


def set_password(user: User, password: str, *, moment: datetime) -> None:
    """Give ``user`` a new password (already checked). Every session they have ends at its next
    request: the password's version moves on (``sign_in.identity_for_token``)."""
    user.password_hash = hash_password(password)
    user.credential_version = (user.credential_version or 0) + 1
    user.password_changed_at = moment
    user.password_change_required = False


def create_user(
    session: Session,
    *,
    username: str,
    display_name: str,
    role: Role | str,
    password: str,
    actor_label: str,
    temporary_password: bool = False,
) -> User:
    """Create an active user with a hashed password, recording it in the audit trail. A
    ``temporary_password`` (an admin chose it, to hand over) must be changed at first sign-in."""
    username = username.strip().lower()
    if not USERNAME_PATTERN.match(username):
        raise AccountError(
            "username must be 2-64 characters: lower-case letters, digits, '.', '_' or '-'"
        )
    display_name = " ".join(display_name.split())
    if not display_name or len(display_name) > 100:
        raise AccountError("display name must be 1-100 characters")
    try:
        role = Role(role)
    except ValueError as error:
        choices = ", ".join(member.value for member in Role)
        raise AccountError(f"role must be one of {choices}") from error
    try:
        check_password_strength(password)
    except ValueError as error:
        raise AccountError(str(error)) from error
    if session.scalar(select(User.id).where(User.username == username)) is not None:
        raise AccountError(f"a user named {username!r} already exists")
    user = User(
        username=username,
        display_name=display_name,
        role=role,
        password_hash=hash_password(password),
        password_change_required=temporary_password,
    )
    session.add(user)
    session.flush()
    record_audit_event(
        session,
        actor_label=actor_label,
        action="user.create",
        outcome="success",
        object_type="user",
        object_id=user.id,
        detail={"role": role.value},
    )
    return user


def give_handler_record(
    session: Session, user: User, endpoint: str, *, allow_fictional: bool, actor_label: str
) -> Handler:
    """A handler record for a handler-role user (their console, and where the ACD rings them:
    ``endpoint`` is a UK phone number, a SIP URI or a Twilio client identity)."""
    if user.role is not Role.HANDLER:
        raise AccountError("only users with the handler role take calls")
    try:
        handler = create_handler(
            session, user.id, user.display_name, endpoint, allow_fictional=allow_fictional
        )
    except (HandlerError, ValueError) as error:
        raise AccountError(str(error)) from error
    record_audit_event(
        session,
        actor_label=actor_label,
        action="handler.create",
        outcome="success",
        object_type="handler",
        object_id=handler.id,
        detail={"user_id": user.id},
    )
    return handler
