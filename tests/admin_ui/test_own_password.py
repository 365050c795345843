"""Staff change their own password at /account/password: the current one first, a strong new
one twice; a wrong current password counts towards the lockout; a change (or an admin's reset)
signs every other session of the user out and keeps the one that made it. On SQLite and
PostgreSQL."""

from __future__ import annotations

import logging

import pytest
from flask import Flask
from sqlalchemy import Engine, select

from rmc_outreach.db import session_scope
from rmc_outreach.models import AuditEvent, Role, User
from rmc_outreach.own_password import SAME_AS_CURRENT, WRONG_CURRENT
from rmc_outreach.sign_in import MAX_CONSECUTIVE_FAILURES, parse_session_token
from tests.admin_ui.conftest import PASSWORD, StaffClient, create_staff

NEW_PASSWORD = "four unrelated words, changed"
PATH = "/account/password"


def signed_in(app: Flask, username: str, password: str = PASSWORD) -> StaffClient:
    client: StaffClient = app.test_client()  # type: ignore[assignment]
    client.sign_in(username, password)
    return client


def sign_in_status(app: Flask, username: str, password: str) -> int:
    client: StaffClient = app.test_client()  # type: ignore[assignment]
    data = {"username": username, "password": password, "csrf_token": client.fresh_csrf_token()}
    return int(client.post("/login", data=data).status_code)


def stored(username: str) -> User:
    with session_scope(read_only=True) as session:
        user = session.scalar(select(User).where(User.username == username))
        assert user is not None
        return user


def change(client: StaffClient, current: str, new: str, again: str | None = None) -> object:
    form = {"current_password": current, "new_password": new, "new_password_again": again or new}
    return client.post(PATH, data=form)


@pytest.mark.parametrize("role", list(Role))
def test_every_role_changes_their_own_password_and_other_sessions_end(
    database: Engine, app: Flask, role: Role, caplog: pytest.LogCaptureFixture
) -> None:
    username = create_staff(role)
    here, elsewhere = signed_in(app, username), signed_in(app, username)
    assert "Change password" in here.get(PATH).get_data(as_text=True)

    with caplog.at_level(logging.DEBUG):
        done = change(here, PASSWORD, NEW_PASSWORD)

    assert done.status_code == 303  # type: ignore[attr-defined]
    assert done.headers["Location"] == PATH  # type: ignore[attr-defined]
    page = here.get(PATH)
    assert page.status_code == 200  # this session carries on
    assert "Your password was changed" in page.get_data(as_text=True)
    assert elsewhere.get(PATH).status_code == 302  # the other one is signed out
    assert sign_in_status(app, username, PASSWORD) == 401
    assert sign_in_status(app, username, NEW_PASSWORD) == 303
    user = stored(username)
    assert user.credential_version == 1 and user.password_changed_at is not None
    with session_scope(read_only=True) as session:
        about_them = select(AuditEvent).where(AuditEvent.object_id == str(user.id))
        events = session.scalars(about_them).all()
    [event] = [event for event in events if event.action == "user.password_change"]
    assert (event.actor_user_id, event.detail) == (user.id, {})
    assert not any(NEW_PASSWORD in repr(event.detail) for event in events)
    assert NEW_PASSWORD not in caplog.text and PASSWORD not in caplog.text


def test_a_wrong_current_password_is_refused_and_counts_towards_the_lockout(
    database: Engine, app: Flask
) -> None:
    username = create_staff(Role.SUPERVISOR)
    client = signed_in(app, username)

    refused = change(client, "not my password", NEW_PASSWORD)

    assert refused.status_code == 422  # type: ignore[attr-defined]
    text = refused.get_data(as_text=True)  # type: ignore[attr-defined]
    assert f'<p class="field-error" id="current_password-error">{WRONG_CURRENT}' in text
    assert stored(username).failed_sign_ins == 1
    assert stored(username).credential_version == 0
    for _ in range(MAX_CONSECUTIVE_FAILURES - 1):
        change(client, "still guessing", NEW_PASSWORD)
    assert stored(username).locked_until is not None
    locked = change(client, PASSWORD, NEW_PASSWORD)  # even the right one, while locked
    assert locked.status_code == 422  # type: ignore[attr-defined]
    assert "locked" in locked.get_data(as_text=True)  # type: ignore[attr-defined]
    assert stored(username).credential_version == 0


@pytest.mark.parametrize(
    "case",
    [
        ("short one", "short one", "new_password", "at least 12 characters"),
        (PASSWORD, PASSWORD, "new_password", SAME_AS_CURRENT),
        (NEW_PASSWORD, NEW_PASSWORD + "!", "new_password_again", "are not the same"),
        # Refused whole, never stored cut short: sign-in reads 256 characters at most.
        ("abcde" * 52, "abcde" * 52, "new_password", "at most 256 characters"),
    ],
)
def test_a_weak_repeated_or_mistyped_new_password_changes_nothing(
    database: Engine, app: Flask, case: tuple[str, str, str, str]
) -> None:
    new, again, field, message = case
    username = create_staff(Role.HANDLER)
    client = signed_in(app, username)

    refused = change(client, PASSWORD, new, again)

    assert refused.status_code == 422  # type: ignore[attr-defined]
    text = refused.get_data(as_text=True)  # type: ignore[attr-defined]
    assert f'<p class="field-error" id="{field}-error">' in text and message in text
    user = stored(username)
    assert (user.credential_version, user.failed_sign_ins) == (0, 0)
    assert sign_in_status(app, username, PASSWORD) == 303


def test_without_the_csrf_token_nothing_changes(database: Engine, app: Flask) -> None:
    username = create_staff(Role.MANAGER)
    client = signed_in(app, username)
    form = {"current_password": PASSWORD, "new_password": NEW_PASSWORD}

    refused = client.post(PATH, data=form | {"new_password_again": NEW_PASSWORD}, csrf=False)

    assert refused.status_code == 400
    assert stored(username).credential_version == 0


def test_an_admins_reset_signs_the_user_out_everywhere(database: Engine, app: Flask) -> None:
    target = create_staff(Role.SUPERVISOR)
    their_session = signed_in(app, target)
    admin = signed_in(app, create_staff(Role.ADMIN))
    target_id = stored(target).id
    form = {"password": NEW_PASSWORD, "password_again": NEW_PASSWORD}

    assert admin.post(f"/admin/users/{target_id}/password", data=form).status_code == 303

    assert their_session.get(PATH).status_code == 302
    assert sign_in_status(app, target, NEW_PASSWORD) == 303


def test_an_admin_resetting_their_own_password_stays_signed_in(
    database: Engine, app: Flask
) -> None:
    username = create_staff(Role.ADMIN)
    admin, other = signed_in(app, username), signed_in(app, username)
    form = {"password": NEW_PASSWORD, "password_again": NEW_PASSWORD}

    done = admin.post(f"/admin/users/{stored(username).id}/password", data=form)

    assert done.status_code == 303
    page = admin.get(f"/admin/users/{stored(username).id}")
    assert page.status_code == 200
    assert "Your password was set" in page.get_data(as_text=True)
    assert other.get(PATH).status_code == 302


def test_a_session_names_its_user_and_password_version() -> None:
    assert parse_session_token("17.3") == (17, 3)
    # A session from before versions (the bare id) or a tampered one names nobody.
    for token in ("17", "17.", ".3", "17.x", "-1.0", ""):
        assert parse_session_token(token) is None


def test_after_an_admins_reset_the_user_must_choose_their_own_before_anything_else(
    database: Engine, app: Flask
) -> None:
    target = create_staff(Role.SUPERVISOR)
    admin = signed_in(app, create_staff(Role.ADMIN))
    form = {"password": NEW_PASSWORD, "password_again": NEW_PASSWORD}
    assert admin.post(f"/admin/users/{stored(target).id}/password", data=form).status_code == 303
    assert stored(target).password_change_required

    client = signed_in(app, target, NEW_PASSWORD)
    page = client.get("/")
    api = client.get("/api/queue")
    account = client.get(PATH)

    assert (page.status_code, page.headers["Location"]) == (303, PATH)
    assert api.status_code == 403
    assert api.get_json()["change_password"] == PATH
    assert client.get("/api/session").status_code == 200  # open routes stay open
    text = account.get_data(as_text=True)
    assert account.status_code == 200 and "An admin set the password you signed in with" in text
    assert 'href="/referrals"' not in text  # the menu offers nothing that would not open
    changed = change(client, NEW_PASSWORD, "my very own passphrase")
    assert changed.status_code == 303  # type: ignore[attr-defined]
    client.fresh_csrf_token()
    assert client.get("/").status_code == 200
    assert not stored(target).password_change_required


def test_a_user_an_admin_adds_chooses_their_own_password_at_first_sign_in(
    database: Engine, app: Flask
) -> None:
    admin = signed_in(app, create_staff(Role.ADMIN))
    form = {
        "username": "new-manager",
        "display_name": "New Manager",
        "role": "manager",
        "password": NEW_PASSWORD,
        "password_again": NEW_PASSWORD,
    }
    assert admin.post("/admin/users", data=form).status_code == 303

    client = signed_in(app, "new-manager", NEW_PASSWORD)

    assert client.get("/live").headers["Location"] == PATH
    # An admin's own reset of their own password is theirs already.
    me = stored(create_staff(Role.ADMIN, username="self-resetter"))
    self_admin = signed_in(app, "self-resetter")
    again = {"password": NEW_PASSWORD, "password_again": NEW_PASSWORD}
    assert self_admin.post(f"/admin/users/{me.id}/password", data=again).status_code == 303
    assert not stored("self-resetter").password_change_required
