"""Staff users are created with a hashed password, a valid role and an audit record."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine, func, select

from rmc_outreach.accounts import AccountError, create_user
from rmc_outreach.db import session_scope
from rmc_outreach.models import AuditEvent, Role, User
from rmc_outreach.passwords import hash_password, verify_password

GOOD_PASSWORD = "correct horse battery"


def test_a_password_hash_verifies_only_the_same_password() -> None:
    stored = hash_password(GOOD_PASSWORD)
    assert stored.startswith("scrypt$")
    assert GOOD_PASSWORD not in stored
    assert verify_password(GOOD_PASSWORD, stored)
    assert not verify_password(GOOD_PASSWORD + "!", stored)
    assert not verify_password(GOOD_PASSWORD, "not-a-hash")
    assert hash_password(GOOD_PASSWORD) != stored  # a fresh salt each time


def test_creating_a_user_stores_a_hash_and_audits_it(database: Engine) -> None:
    with session_scope() as session:
        create_user(
            session,
            username="Sup.One",
            display_name="  Supervisor   One ",
            role="supervisor",
            password=GOOD_PASSWORD,
            actor_label="cli",
        )
    with session_scope() as session:
        user = session.scalars(select(User)).one()
        assert user.username == "sup.one"
        assert user.display_name == "Supervisor One"
        assert user.role is Role.SUPERVISOR
        assert verify_password(GOOD_PASSWORD, user.password_hash)
        event = session.scalars(select(AuditEvent)).one()
        assert (event.action, event.object_id, event.detail) == (
            "user.create",
            str(user.id),
            {"role": "supervisor"},
        )


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"username": "x"}, "username must be 2-64 characters"),
        ({"role": "owner"}, "role must be one of handler, supervisor, manager, admin"),
        ({"password": "short"}, "at least 12 characters"),
        ({"password": "aaaaaaaaaaaaaaa"}, "at least 5 different characters"),
        ({"password": "abcde" * 52}, "at most 256 characters"),  # sign-in reads 256 at most
    ],
)
def test_bad_user_details_are_refused_with_a_reason_and_nothing_stored(
    database: Engine, overrides: dict[str, str], message: str
) -> None:
    details = {"username": "handler1", "role": "handler", "password": GOOD_PASSWORD} | overrides
    with pytest.raises(AccountError, match=message), session_scope() as session:
        create_user(
            session,
            username=details["username"],
            display_name="Handler",
            role=details["role"],
            password=details["password"],
            actor_label="cli",
        )
    with session_scope() as session:
        assert session.scalar(select(func.count()).select_from(User)) == 0


def test_a_second_user_with_the_same_name_is_refused(database: Engine) -> None:
    with session_scope() as session:
        create_user(
            session,
            username="admin",
            display_name="Admin",
            role=Role.ADMIN,
            password=GOOD_PASSWORD,
            actor_label="cli",
        )
    with pytest.raises(AccountError, match="already exists"), session_scope() as session:
        create_user(
            session,
            username="ADMIN",
            display_name="Other",
            role=Role.ADMIN,
            password=GOOD_PASSWORD,
            actor_label="cli",
        )
