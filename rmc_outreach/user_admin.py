"""Admins managing staff accounts: list, change role, deactivate and reactivate, unlock, set a
temporary password. Creating a user is ``rmc_outreach.accounts.create_user``.

Every change is audited (``user.role_change``, ``user.deactivate``, ``user.reactivate``,
``user.unlock``, ``user.password_reset``) with ids and roles only, never a password. A change
that would leave no active admin is refused: the admins' rows are locked first (``FOR UPDATE``
on PostgreSQL; SQLite serialises writers), so two admins demoting each other at once cannot
both succeed. A deactivated user's sessions end at their next request (the signed-in identity
is read fresh each time and only for active users); so do the sessions of a user whose password
an admin resets. Users change their own password with ``rmc_outreach.own_password``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from rmc_outreach.accounts import AccountError, give_handler_record, set_password
from rmc_outreach.audit import record_audit_event
from rmc_outreach.models import Handler, Role, User
from rmc_outreach.passwords import WeakPasswordError, check_password_strength

LAST_ADMIN = "this would leave no active admin: make another user an admin first"


class UserNotFound(LookupError):
    """No user has this id."""


@dataclass(frozen=True)
class Actor:
    """The admin making a change, as the audit trail names them."""

    label: str
    user_id: int


@dataclass(frozen=True)
class UserRow:
    """A user as the admins' pages show them (no password hash)."""

    id: int
    username: str
    display_name: str
    role: Role
    active: bool
    locked: bool
    handler_id: int | None
    last_sign_in_at: datetime | None


def list_users(session: Session, *, moment: datetime) -> list[UserRow]:
    """Every user, by username; ``locked`` is judged at ``moment`` (wall-clock time)."""
    rows = session.execute(
        select(User, Handler.id)
        .outerjoin(Handler, Handler.user_id == User.id)
        .order_by(User.username)
    ).all()
    return [_row(user, handler_id, moment) for user, handler_id in rows]


def user_row(session: Session, user_id: int, *, moment: datetime) -> UserRow:
    """One user; raises UserNotFound."""
    row = session.execute(
        select(User, Handler.id)
        .outerjoin(Handler, Handler.user_id == User.id)
        .where(User.id == user_id)
    ).first()
    if row is None:
        raise UserNotFound(user_id)
    return _row(row[0], row[1], moment)


def _row(user: User, handler_id: int | None, moment: datetime) -> UserRow:
    return UserRow(
        id=user.id,
        username=user.username,
        display_name=user.display_name,
        role=Role(user.role),
        active=user.active,
        locked=user.locked_until is not None and user.locked_until > moment,
        handler_id=handler_id,
        last_sign_in_at=user.last_sign_in_at,
    )


def _locked_user(session: Session, user_id: int) -> User:
    user = session.scalars(
        select(User)
        .where(User.id == user_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).first()
    if user is None:
        raise UserNotFound(user_id)
    return user


def _refuse_if_last_admin(session: Session, user: User) -> None:
    """Refuse when ``user`` is the only active admin (called before they stop being one)."""
    if user.role is not Role.ADMIN or not user.active:
        return
    admins = session.scalars(
        select(User.id).where(User.role == Role.ADMIN, User.active.is_(True)).with_for_update()
    ).all()
    if set(admins) <= {user.id}:
        raise AccountError(LAST_ADMIN)


def _audit(session: Session, actor: Actor, action: str, user_id: int, **detail: object) -> None:
    record_audit_event(
        session,
        actor_label=actor.label,
        actor_user_id=actor.user_id,
        action=action,
        outcome="success",
        object_type="user",
        object_id=user_id,
        detail=dict(detail),
    )


def change_role(
    session: Session,
    user_id: int,
    role: Role | str,
    *,
    actor: Actor,
    endpoint: str | None = None,
    allow_fictional: bool = False,
) -> bool:
    """Give a user another role; returns whether it changed. A user becoming a handler without a
    handler record needs ``endpoint`` (where calls ring them) and gets one. A former handler's
    record stays (their calls' history names it)."""
    try:
        new_role = Role(role)
    except ValueError as error:
        raise AccountError("choose one of the roles") from error
    user = _locked_user(session, user_id)
    old_role = Role(user.role)
    if new_role is old_role:
        return False
    if old_role is Role.ADMIN:
        _refuse_if_last_admin(session, user)
    has_handler = session.scalar(select(Handler.id).where(Handler.user_id == user.id))
    if new_role is Role.HANDLER and has_handler is None and not (endpoint or "").strip():
        raise AccountError(
            "a handler needs an endpoint (the phone number, SIP address or client:name their "
            "calls ring)"
        )
    user.role = new_role
    session.flush()
    _audit(session, actor, "user.role_change", user.id, old=old_role.value, new=new_role.value)
    if new_role is Role.HANDLER and has_handler is None:
        give_handler_record(
            session,
            user,
            (endpoint or "").strip(),
            allow_fictional=allow_fictional,
            actor_label=actor.label,
        )
    return True


def set_active(session: Session, user_id: int, active: bool, *, actor: Actor) -> bool:
    """Deactivate (their sessions end at their next request) or reactivate a user; returns
    whether it changed."""
    user = _locked_user(session, user_id)
    if user.active == active:
        return False
    if not active:
        _refuse_if_last_admin(session, user)
    user.active = active
    _audit(session, actor, "user.reactivate" if active else "user.deactivate", user.id)
    return True


def unlock(session: Session, user_id: int, *, actor: Actor) -> None:
    """End a sign-in lockout and forget the failures counted so far."""
    user = _locked_user(session, user_id)
    user.locked_until = None
    user.failed_sign_ins = 0
    _audit(session, actor, "user.unlock", user.id)


def reset_password(session: Session, user_id: int, password: str, *, actor: Actor) -> None:
    """Set a password an admin chose (to hand over in person); it must pass the strength
    check, and the user (unless it is the admin themselves) must change it at their next
    sign-in. The lockout and failure count are cleared too, and the user's sessions end (the
    account may have been taken over). The password is never recorded."""
    try:
        check_password_strength(password)
    except WeakPasswordError as error:
        raise AccountError(str(error)) from error
    user = _locked_user(session, user_id)
    set_password(user, password, moment=datetime.now(UTC))
    # Someone else's: theirs to replace at their next sign-in (an admin's own is their own).
    user.password_change_required = actor.user_id != user.id
    user.locked_until = None
    user.failed_sign_ins = 0
    _audit(session, actor, "user.password_reset", user.id)
