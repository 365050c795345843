"""Demo and simulated handlers' accounts: made for the demo only, never in production."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import Engine, select

from rmc_outreach.db import session_scope
from rmc_outreach.demo_accounts import DemoAccountsRefused, ensure_demo_users
from rmc_outreach.demo_carrier import ensure_sim_handlers
from rmc_outreach.models import Handler, Role, User
from rmc_outreach.sign_in import sign_in
from rmc_outreach.simulation.carrier.staff import sim_handler_password


def test_demo_users_get_this_runs_password_and_can_sign_in(database: Engine) -> None:
    with session_scope() as session:
        ensure_demo_users(session, "first run password", production=False)
    with session_scope() as session:
        ensure_demo_users(session, "second run password", production=False)
    with session_scope() as session:
        roles = {u.username: u.role for u in session.scalars(select(User))}
        old = sign_in(session, "demo-admin", "first run password", moment=datetime.now(UTC))
        new = sign_in(session, "demo-admin", "second run password", moment=datetime.now(UTC))

    assert roles == {
        "demo-supervisor": Role.SUPERVISOR,
        "demo-manager": Role.MANAGER,
        "demo-admin": Role.ADMIN,
    }
    assert old.identity is None
    assert new.identity is not None and new.identity.role is Role.ADMIN


def test_simulated_handlers_sign_in_with_the_password_from_the_auth_token(
    database: Engine,
) -> None:
    def password_for(identity: str) -> str:
        return sim_handler_password("a-throw-away-token", identity)

    with session_scope() as session:
        ensure_sim_handlers(session, 2, password_for=password_for)
    with session_scope() as session:
        handler_id = session.scalar(
            select(Handler.id).where(Handler.endpoint == "client:sim_handler_2")
        )
        signed_in = sign_in(
            session, "sim_handler_2", password_for("sim_handler_2"), moment=datetime.now(UTC)
        )
        wrong_token = sign_in(
            session,
            "sim_handler_2",
            sim_handler_password("another-token", "sim_handler_2"),
            moment=datetime.now(UTC),
        )

    assert signed_in.identity is not None
    assert (signed_in.identity.role, signed_in.identity.handler_id) == (Role.HANDLER, handler_id)
    assert wrong_token.identity is None


def test_no_demo_account_is_ever_made_in_production(database: Engine) -> None:
    with session_scope() as session, pytest.raises(DemoAccountsRefused):
        ensure_demo_users(session, "any password at all", production=True)
    with session_scope() as session, pytest.raises(DemoAccountsRefused):
        ensure_sim_handlers(session, 1, production=True)
    with session_scope() as session:
        assert session.scalars(select(User)).all() == []
