"""Staff accounts for the demo and the benchmarks only: never in production.

- ``ensure_demo_users``: ``demo-supervisor``, ``demo-manager`` and ``demo-admin``, with one
  password chosen afresh by each ``make demo`` run and printed by it (the data is synthetic);
- ``ensure_handler_user``: the user behind a simulated handler (username = its identity,
  ``sim_handler_K``, role handler), linked to the handler record; its password is derived from the
  run's throw-away Twilio auth token, which the carrier simulator also holds
  (``rmc_outreach.simulation.carrier.staff.sim_handler_password``), so the simulated handlers can
  sign in to the console without a password being passed around.

Every function refuses production settings' callers by raising ``DemoAccountsRefused``; they
flush and do not commit.
"""

from __future__ import annotations

import secrets
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from rmc_outreach.accounts import create_user, set_password
from rmc_outreach.models import Handler, Role, User

DEMO_USERS = (
    ("demo-supervisor", "Demo Supervisor", Role.SUPERVISOR),
    ("demo-manager", "Demo Manager", Role.MANAGER),
    ("demo-admin", "Demo Admin", Role.ADMIN),
)
ACTOR = "demo"


class DemoAccountsRefused(RuntimeError):
    """Demo accounts are never made in production."""


def new_demo_password() -> str:
    """A fresh random password for one demo run."""
    return secrets.token_urlsafe(12)


def _set_password(user: User, password: str) -> None:
    # This run's printed password is the one to use (sessions of an earlier run end).
    set_password(user, password, moment=datetime.now(UTC))
    user.failed_sign_ins = 0
    user.locked_until = None
    user.active = True


def ensure_demo_users(session: Session, password: str, *, production: bool) -> list[str]:
    """Create the demo's supervisor, manager and admin, or give them ``password``; returns
    their usernames."""
    if production:
        raise DemoAccountsRefused("demo accounts are never created in production")
    for username, display_name, role in DEMO_USERS:
        user = session.scalar(select(User).where(User.username == username))
        if user is None:
            create_user(
                session,
                username=username,
                display_name=display_name,
                role=role,
                password=password,
                actor_label=ACTOR,
            )
        else:
            user.role = role
            _set_password(user, password)
    session.flush()
    return [username for username, _, _ in DEMO_USERS]


def ensure_handler_user(
    session: Session, handler: Handler, username: str, password: str | None, *, production: bool
) -> User:
    """The handler-role user ``username`` linked to ``handler``: created when missing, its
    password set to ``password`` when given (a random, unknown one for a new user otherwise)."""
    if production:
        raise DemoAccountsRefused("simulated handlers' accounts are never created in production")
    user = session.scalar(select(User).where(User.username == username))
    if user is None:
        user = create_user(
            session,
            username=username,
            display_name=handler.display_name,
            role=Role.HANDLER,
            password=password or secrets.token_urlsafe(24),
            actor_label=ACTOR,
        )
    elif password is not None:
        _set_password(user, password)
    if handler.user_id != user.id:
        handler.user_id = user.id
    session.flush()
    return user
