"""Admins manage users (/admin/users): add, change role, deactivate, reactivate, unlock, set a
temporary password; every change audited without passwords; never no active admin left."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import Engine, select

from rmc_outreach.db import session_scope
from rmc_outreach.models import AuditEvent, Handler, Role, User
from rmc_outreach.passwords import verify_password
from tests.admin_ui.conftest import StaffClient, create_staff

NEW_PASSWORD = "a new temporary passphrase"


def user_id_of(username: str) -> int:
    with session_scope(read_only=True) as session:
        found = session.scalar(select(User.id).where(User.username == username))
    assert found is not None
    return found


def stored_user(username: str) -> User:
    with session_scope(read_only=True) as session:
        user = session.scalar(select(User).where(User.username == username))
        assert user is not None
        session.expunge(user)
        return user


def audit_of(action: str) -> list[AuditEvent]:
    with session_scope(read_only=True) as session:
        events = list(
            session.scalars(
                select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.id)
            )
        )
        for event in events:
            session.expunge(event)
        return events


def signed_in_as(app: Flask, username: str, password: str | None = None) -> StaffClient:
    client: StaffClient = app.test_client()  # type: ignore[assignment]
    if password is None:
        client.sign_in(username)
    else:
        client.sign_in(username, password)
    return client


@pytest.fixture
def admin_name(database: Engine) -> str:
    return create_staff(Role.ADMIN)


@pytest.fixture
def admin(app: Flask, admin_name: str) -> StaffClient:
    return signed_in_as(app, admin_name)


def new_user_form(**overrides: str) -> dict[str, str]:
    form = {
        "username": "new.supervisor",
        "display_name": "Nia Supervisor",
        "role": "supervisor",
        "endpoint": "",
        "password": NEW_PASSWORD,
        "password_again": NEW_PASSWORD,
    }
    form.update(overrides)
    return form


def test_admins_see_every_user_with_role_active_and_locked(
    admin: StaffClient, admin_name: str
) -> None:
    locked = create_staff(Role.SUPERVISOR)
    gone = create_staff(Role.MANAGER)
    with session_scope() as session:
        locked_user, gone_user = (
            session.get(User, user_id_of(locked)),
            session.get(User, user_id_of(gone)),
        )
        assert locked_user is not None and gone_user is not None
        locked_user.locked_until = datetime.now(UTC) + timedelta(minutes=10)
        gone_user.active = False

    page = admin.get("/admin/users").get_data(as_text=True)

    def row(username: str) -> str:
        return page.split(f'<tr data-user-id="{user_id_of(username)}">', 1)[1].split("</tr>")[0]

    assert "admin" in row(admin_name)
    assert "yes: locked out" in row(locked)
    assert "no: deactivated" in row(gone)
    assert "password" not in row(locked).lower()
    assert "scrypt$" not in page


def test_an_admin_adds_a_user_with_a_role_audited_without_the_password(
    admin: StaffClient, admin_name: str, app: Flask, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.DEBUG):
        response = admin.post("/admin/users", data=new_user_form())

    assert response.status_code == 303
    user = stored_user("new.supervisor")
    assert (user.role, user.display_name, user.active) == (Role.SUPERVISOR, "Nia Supervisor", True)
    assert verify_password(NEW_PASSWORD, user.password_hash)
    [event] = audit_of("user.create")
    assert event.actor_label == f"user {user_id_of(admin_name)}"
    assert (event.object_id, event.detail) == (str(user.id), {"role": "supervisor"})
    assert NEW_PASSWORD not in caplog.text
    signed_in_as(app, "new.supervisor", NEW_PASSWORD)  # the temporary password works


def test_a_new_handler_gets_a_handler_record_and_needs_an_endpoint(admin: StaffClient) -> None:
    refused = admin.post("/admin/users", data=new_user_form(username="no.endpoint", role="handler"))
    made = admin.post(
        "/admin/users",
        data=new_user_form(username="hana.handler", role="handler", endpoint="client:hana"),
    )

    assert refused.status_code == 422
    assert '<p class="field-error" id="endpoint-error">a handler needs an endpoint' in (
        refused.get_data(as_text=True)
    )
    assert made.status_code == 303
    with session_scope(read_only=True) as session:
        handler = session.scalar(
            select(Handler).where(Handler.user_id == user_id_of("hana.handler"))
        )
        assert handler is not None
        assert handler.endpoint == "client:hana"
        assert session.scalar(select(User).where(User.username == "no.endpoint")) is None
    assert len(audit_of("handler.create")) == 1


@pytest.mark.parametrize(
    ("overrides", "field", "message"),
    [
        ({"password": "short", "password_again": "short"}, "password", "at least 12"),
        ({"password_again": "something else entirely"}, "password", "not the same"),
        ({"username": "Bad Name!"}, "username", "username must be"),
        ({"role": "superuser"}, "role", "role must be one of"),
    ],
)
def test_a_user_that_cannot_be_added_is_refused_with_the_error_beside_its_field(
    admin: StaffClient, overrides: dict[str, str], field: str, message: str
) -> None:
    response = admin.post("/admin/users", data=new_user_form(**overrides))

    page = response.get_data(as_text=True)
    assert response.status_code == 422
    assert f'<p class="field-error" id="{field}-error">' in page
    assert message in page.split(f'id="{field}-error">', 1)[1].split("</p>")[0]
    assert f'<a href="#{field}">' in page
    with session_scope(read_only=True) as session:
        assert session.scalar(select(User).where(User.username == "new.supervisor")) is None
    assert audit_of("user.create") == []
    assert NEW_PASSWORD not in page


def test_a_taken_username_is_refused(admin: StaffClient, admin_name: str) -> None:
    response = admin.post("/admin/users", data=new_user_form(username=admin_name))

    assert response.status_code == 422
    assert "already exists" in response.get_data(as_text=True)


def test_an_admin_changes_a_users_role_and_it_is_audited_with_old_and_new(
    admin: StaffClient, admin_name: str
) -> None:
    target = create_staff(Role.SUPERVISOR)

    response = admin.post(f"/admin/users/{user_id_of(target)}/role", data={"role": "manager"})

    assert response.status_code == 303
    assert stored_user(target).role is Role.MANAGER
    [event] = audit_of("user.role_change")
    assert event.detail == {"old": "supervisor", "new": "manager"}
    assert event.actor_user_id == user_id_of(admin_name)
    assert "The role was changed." in admin.get(response.headers["Location"]).get_data(as_text=True)


def test_the_only_active_admin_cannot_demote_or_deactivate_themselves(
    admin: StaffClient, admin_name: str
) -> None:
    me = user_id_of(admin_name)
    create_staff(Role.ADMIN, username="gone-admin")
    with session_scope() as session:
        session.get(User, user_id_of("gone-admin")).active = False  # type: ignore[union-attr]

    demoted = admin.post(f"/admin/users/{me}/role", data={"role": "supervisor"})
    deactivated = admin.post(f"/admin/users/{me}/deactivate")

    assert demoted.status_code == 409
    assert deactivated.status_code == 409
    assert "leave no active admin" in demoted.get_data(as_text=True)
    user = stored_user(admin_name)
    assert (user.role, user.active) == (Role.ADMIN, True)
    assert audit_of("user.role_change") == audit_of("user.deactivate") == []


def test_with_another_active_admin_an_admin_may_step_down(
    admin: StaffClient, admin_name: str
) -> None:
    create_staff(Role.ADMIN, username="other-admin")

    response = admin.post(
        f"/admin/users/{user_id_of(admin_name)}/role", data={"role": "supervisor"}
    )

    assert response.status_code == 303
    assert stored_user(admin_name).role is Role.SUPERVISOR
    # No longer an admin: the users pages are closed to them now.
    assert admin.get("/admin/users").status_code == 403


def test_a_deactivated_user_is_signed_out_at_once_and_can_be_reactivated(
    admin: StaffClient, app: Flask
) -> None:
    target = create_staff(Role.SUPERVISOR)
    their_client = signed_in_as(app, target)
    assert their_client.get("/referrals").status_code == 200

    response = admin.post(f"/admin/users/{user_id_of(target)}/deactivate")

    assert response.status_code == 303
    assert stored_user(target).active is False
    assert their_client.get("/referrals").status_code == 302
    assert [event.object_id for event in audit_of("user.deactivate")] == [str(user_id_of(target))]

    admin.post(f"/admin/users/{user_id_of(target)}/reactivate")

    assert stored_user(target).active is True
    assert len(audit_of("user.reactivate")) == 1
    signed_in_as(app, target)


def test_an_admin_unlocks_a_locked_out_user(admin: StaffClient, app: Flask) -> None:
    target = create_staff(Role.SUPERVISOR)
    with session_scope() as session:
        user = session.get(User, user_id_of(target))
        assert user is not None
        user.locked_until = datetime.now(UTC) + timedelta(minutes=15)
        user.failed_sign_ins = 4

    response = admin.post(f"/admin/users/{user_id_of(target)}/unlock")

    assert response.status_code == 303
    user = stored_user(target)
    assert (user.locked_until, user.failed_sign_ins) == (None, 0)
    assert len(audit_of("user.unlock")) == 1
    signed_in_as(app, target)


def test_an_admin_sets_a_temporary_password_that_is_checked_and_never_recorded(
    admin: StaffClient, app: Flask, caplog: pytest.LogCaptureFixture
) -> None:
    target = create_staff(Role.MANAGER)
    path = f"/admin/users/{user_id_of(target)}/password"

    weak = admin.post(path, data={"password": "password", "password_again": "password"})
    with caplog.at_level(logging.DEBUG):
        done = admin.post(path, data={"password": NEW_PASSWORD, "password_again": NEW_PASSWORD})

    assert weak.status_code == 422
    assert '<p class="field-error" id="password-error">password must be at least' in (
        weak.get_data(as_text=True)
    )
    assert done.status_code == 303
    [event] = audit_of("user.password_reset")
    assert event.detail == {}
    with session_scope(read_only=True) as session:
        details = [repr(event.detail) for event in session.scalars(select(AuditEvent))]
    assert not any(NEW_PASSWORD in detail for detail in details)
    assert NEW_PASSWORD not in caplog.text
    signed_in_as(app, target, NEW_PASSWORD)


@pytest.mark.parametrize("role", [Role.SUPERVISOR, Role.MANAGER, Role.HANDLER])
def test_only_admins_manage_users(
    database: Engine, staff_client: Callable[[Role], StaffClient], role: Role
) -> None:
    client = staff_client(role)
    victim = create_staff(Role.ADMIN)
    attempts: list[tuple[str, dict[str, Any]]] = [
        ("/admin/users", new_user_form()),
        (f"/admin/users/{user_id_of(victim)}/role", {"role": "handler"}),
        (f"/admin/users/{user_id_of(victim)}/deactivate", {}),
        (f"/admin/users/{user_id_of(victim)}/password", {"password": NEW_PASSWORD}),
    ]

    for path, form in attempts:
        assert client.post(path, data=form).status_code == 403, path
    assert client.get("/admin/users").status_code == 403
    user = stored_user(victim)
    assert (user.role, user.active) == (Role.ADMIN, True)
    assert audit_of("user.create") == []


def test_the_users_pages_label_every_field_and_carry_no_inline_script_or_style(
    admin: StaffClient, admin_name: str
) -> None:
    pages = [
        admin.get("/admin/users").get_data(as_text=True),
        admin.get(f"/admin/users/{user_id_of(admin_name)}").get_data(as_text=True),
    ]

    for page in pages:
        assert "<script" not in page
        assert " style=" not in page
        for name in ("password", "password_again", "endpoint"):
            if f'id="{name}"' in page:
                assert f'<label for="{name}">' in page
