"""Signing staff in: the password check, the lockout after repeated failures, the audit trail.

``sign_in`` answers with the signed-in identity or a refusal reason. Callers must show every
refusal the same way ("unknown user", "wrong password", "locked" and "inactive" look alike from
outside), and an unknown username costs the same scrypt work as a known one, so neither the
message nor the time tells whether an account exists.

Ten consecutive failures lock an account for ``LOCKOUT`` (``user_account.locked_until``); the
count starts again after the lock. A success resets it. Every attempt is audited with ids only:
never the password, and never the typed username of an unknown account (people type passwords
into the username box).

Times here are wall-clock times (``datetime.now(UTC)``), passed in by the caller: a lockout is
about real minutes, even when the demo's simulated clock runs the engine 30 times faster.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from functools import cache

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from rmc_outreach.audit import record_audit_event
from rmc_outreach.models import Handler, Role, User
from rmc_outreach.passwords import hash_password, verify_password

MAX_CONSECUTIVE_FAILURES = 10
LOCKOUT = timedelta(minutes=15)
SIGN_IN_ACTION = "user.sign_in"
SIGN_OUT_ACTION = "user.sign_out"
LOCK_ACTION = "user.lock"
ANONYMOUS_ACTOR = "anonymous"


class Refusal(StrEnum):
    """Why a sign-in was refused (audit detail only: never shown to the person)."""

    UNKNOWN_USER = "unknown_user"
    WRONG_PASSWORD = "wrong_password"  # noqa: S105 - a reason code, not a password
    LOCKED = "locked"
    INACTIVE = "inactive"
    THROTTLED = "throttled"


@dataclass(frozen=True)
class StaffIdentity:
    """Who is signed in: what access rules and pages need, read fresh on every request."""

    id: int
    role: Role
    display_name: str
    handler_id: int | None  # the handler record linked to this user, if they take calls
    # The password's version when this identity was read: a session that began under an older
    # one (the password changed since) is no longer signed in (``session_token``).
    credential_version: int = 0
    # An admin set the password (new account, reset): the user must choose their own first.
    must_change_password: bool = False

    @property
    def actor_label(self) -> str:
        """How this user is named in the audit trail (an id: no personal data)."""
        return user_actor(self.id)


@dataclass(frozen=True)
class SignInResult:
    """The identity signed in, or why not."""

    identity: StaffIdentity | None
    refusal: Refusal | None = None


def user_actor(user_id: int) -> str:
    """The audit trail's name for a user."""
    return f"user {user_id}"


@cache
def _stand_in_hash() -> str:
    # Verified against when the username is unknown, so that path costs what a real one does.
    return hash_password("no account has this password: timing stand-in")


def sign_in(session: Session, username: str, password: str, *, moment: datetime) -> SignInResult:
    """Check a username and password; count failures, lock after too many, audit the attempt.

    Runs inside the caller's transaction (commit it whatever the answer: failures are recorded).
    """
    user = session.scalar(select(User).where(User.username == username.strip().lower()))
    matches = verify_password(password, user.password_hash if user else _stand_in_hash())
    if user is None:
        return _refused(session, None, Refusal.UNKNOWN_USER)
    if not user.active:
        return _refused(session, user, Refusal.INACTIVE)
    if user.locked_until is not None and user.locked_until > moment:
        return _refused(session, user, Refusal.LOCKED)
    if not matches:
        count_failure(session, user, moment)
        return _refused(session, user, Refusal.WRONG_PASSWORD)
    user.failed_sign_ins = 0
    user.locked_until = None
    user.last_sign_in_at = moment
    record_audit_event(
        session,
        actor_label=user_actor(user.id),
        actor_user_id=user.id,
        action=SIGN_IN_ACTION,
        outcome="success",
        object_type="user",
        object_id=user.id,
        detail={"role": user.role.value},
    )
    session.flush()
    return SignInResult(load_identity(session, user.id))


def count_failure(session: Session, user: User, moment: datetime) -> None:
    """Count one wrong password for ``user``; the tenth in a row locks the account."""
    # One atomic increment: two wrong guesses at once both count.
    session.execute(
        update(User)
        .where(User.id == user.id)
        .values(failed_sign_ins=User.failed_sign_ins + 1)
        .execution_options(synchronize_session=False)
    )
    session.refresh(user)
    if user.failed_sign_ins < MAX_CONSECUTIVE_FAILURES:
        return
    user.locked_until = moment + LOCKOUT
    user.failed_sign_ins = 0
    record_audit_event(
        session,
        actor_label="system",
        action=LOCK_ACTION,
        outcome="success",
        object_type="user",
        object_id=user.id,
        detail={
            "failures": MAX_CONSECUTIVE_FAILURES,
            "minutes": int(LOCKOUT.total_seconds() // 60),
        },
    )


def _refused(session: Session, user: User | None, refusal: Refusal) -> SignInResult:
    record_sign_in_refusal(session, refusal, user.id if user else None)
    return SignInResult(None, refusal)


def record_sign_in_refusal(session: Session, refusal: Refusal, user_id: int | None) -> None:
    """Audit a refused sign-in: the reason and the account's id when it exists, nothing typed."""
    record_audit_event(
        session,
        actor_label=ANONYMOUS_ACTOR,
        action=SIGN_IN_ACTION,
        outcome="failure",
        object_type="user" if user_id is not None else None,
        object_id=user_id,
        detail={"reason": refusal.value},
    )


def record_sign_out(session: Session, user_id: int, *, reason: str) -> None:
    """Audit the end of a session: ``signed_out``, ``idle_timeout`` or ``absolute_timeout``."""
    record_audit_event(
        session,
        actor_label=user_actor(user_id),
        actor_user_id=user_id,
        action=SIGN_OUT_ACTION,
        outcome="success",
        object_type="user",
        object_id=user_id,
        detail={"reason": reason},
    )


def load_identity(session: Session, user_id: int) -> StaffIdentity | None:
    """The active user with this id (and their handler record), or None."""
    row = session.execute(
        select(
            User.id,
            User.role,
            User.display_name,
            Handler.id,
            User.credential_version,
            User.password_change_required,
        )
        .outerjoin(Handler, Handler.user_id == User.id)
        .where(User.id == user_id, User.active.is_(True))
    ).first()
    if row is None:
        return None
    return StaffIdentity(
        id=row[0],
        role=Role(row[1]),
        display_name=row[2],
        handler_id=row[3],
        credential_version=row[4],
        must_change_password=row[5],
    )


def session_token(identity: StaffIdentity) -> str:
    """What a signed-in session keeps to name its user: the id and the password's version."""
    return f"{identity.id}.{identity.credential_version}"


def parse_session_token(token: str) -> tuple[int, int] | None:
    """(user id, password version) from ``session_token``; None when it is not one."""
    user_id, _, version = token.partition(".")
    if not (user_id.isdigit() and version.isdigit()):
        return None
    return int(user_id), int(version)


def identity_for_token(session: Session, token: str) -> StaffIdentity | None:
    """The active user a session names, or None: no such user, deactivated, or the password
    has changed since the session began (a change signs every other session out)."""
    parsed = parse_session_token(token)
    if parsed is None:
        return None
    identity = load_identity(session, parsed[0])
    if identity is None or identity.credential_version != parsed[1]:
        return None
    return identity
