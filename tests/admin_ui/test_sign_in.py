"""Signing in and out: one message for every refusal, lockout, the per-address throttle, CSRF,
fresh sessions, timeouts, cookie flags and the audit trail. On SQLite and PostgreSQL."""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import redis
from flask import Flask
from sqlalchemy import Engine, select

from admin_ui import create_app
from admin_ui.access import SEEN_AT, SIGNED_IN_AT, wall_clock
from admin_ui.auth import REFUSED, THROTTLE_EXTENSION, THROTTLED
from admin_ui.throttle import SignInThrottle
from rmc_outreach.config import Settings
from rmc_outreach.db import session_scope
from rmc_outreach.models import AuditEvent, Handler, HandlerSession, HandlerState, Role, User
from tests.admin_ui.conftest import PASSWORD, StaffClient, create_staff


def new_client(app: Flask) -> StaffClient:
    """An anonymous client holding a CSRF token for its session."""
    client: StaffClient = app.test_client()  # type: ignore[assignment]
    client.fresh_csrf_token()
    return client


def try_sign_in(client: StaffClient, username: str, password: str, **extra: str) -> object:
    """A sign-in form post (with the session's CSRF token)."""
    data = {"username": username, "password": password, "csrf_token": client.csrf_token or ""}
    return client.post("/login", data={**data, **extra})


def audit(action_prefix: str = "user.") -> list[AuditEvent]:
    """Audit rows whose action starts with ``action_prefix``, oldest first."""
    with session_scope() as session:
        rows = list(
            session.scalars(
                select(AuditEvent)
                .where(AuditEvent.action.like(f"{action_prefix}%"))
                .order_by(AuditEvent.id)
            )
        )
        session.expunge_all()
    return rows


def the_user(username: str) -> User:
    """The stored user."""
    with session_scope() as session:
        user = session.scalar(select(User).where(User.username == username))
        assert user is not None
        session.expunge(user)
    return user


def make_handler(name: str = "Hana") -> int:
    """A handler record, offline."""
    with session_scope() as session:
        handler = Handler(display_name=name, endpoint=f"client:{name.lower()}")
        session.add(handler)
        session.flush()
        session.add(HandlerSession(handler_id=handler.id, state=HandlerState.OFFLINE))
        return handler.id


def error_message(response: object) -> str:
    """The text of the sign-in page's error summary."""
    html = response.get_data(as_text=True)  # type: ignore[attr-defined]
    match = re.search(r'id="error-summary">\s*<h2>[^<]*</h2>\s*<p>([^<]*)</p>', html)
    assert match, html[:2000]
    return match.group(1)


def test_unknown_user_wrong_password_and_inactive_read_exactly_the_same(
    database: Engine, app: Flask
) -> None:
    known = create_staff(Role.SUPERVISOR)
    inactive = create_staff(Role.SUPERVISOR)
    with session_scope() as session:
        user = session.scalar(select(User).where(User.username == inactive))
        assert user is not None
        user.active = False

    answers = [
        try_sign_in(new_client(app), "nobody-here", PASSWORD),
        try_sign_in(new_client(app), known, "wrong password entirely"),
        try_sign_in(new_client(app), inactive, PASSWORD),
    ]

    assert [a.status_code for a in answers] == [401, 401, 401]  # type: ignore[attr-defined]
    assert {error_message(a) for a in answers} == {REFUSED.replace("'", "&#39;")}
    json_answer = new_client(app).post("/login", json={"username": "nobody", "password": "x"})
    assert json_answer.get_json() == {"error": REFUSED}


def test_ten_failures_in_a_row_lock_the_account_even_against_the_right_password(
    database: Engine, app: Flask
) -> None:
    username = create_staff(Role.SUPERVISOR)
    client = new_client(app)

    for _ in range(9):
        try_sign_in(client, username, "not the password")
    assert the_user(username).failed_sign_ins == 9
    tenth = try_sign_in(client, username, "not the password")
    locked = try_sign_in(client, username, PASSWORD)

    assert tenth.status_code == 401  # type: ignore[attr-defined]
    assert locked.status_code == 401  # type: ignore[attr-defined]
    assert error_message(locked) == error_message(tenth)
    user = the_user(username)
    assert user.locked_until is not None
    assert user.locked_until > datetime.now(UTC) + timedelta(minutes=14)
    [lock] = audit("user.lock")
    assert (lock.object_id, lock.detail) == (str(user.id), {"failures": 10, "minutes": 15})
    reasons = [e.detail["reason"] for e in audit("user.sign_in")]
    assert reasons == ["wrong_password"] * 10 + ["locked"]

    with session_scope() as session:  # the lock runs out
        stored = session.get(User, user.id)
        assert stored is not None
        stored.locked_until = datetime.now(UTC) - timedelta(seconds=1)
    assert try_sign_in(client, username, PASSWORD).status_code == 303  # type: ignore[attr-defined]
    assert the_user(username).failed_sign_ins == 0


def test_a_success_starts_the_count_of_failures_again(database: Engine, app: Flask) -> None:
    username = create_staff(Role.MANAGER)
    for _ in range(5):
        try_sign_in(new_client(app), username, "not the password")

    try_sign_in(new_client(app), username, PASSWORD)

    user = the_user(username)
    assert (user.failed_sign_ins, user.locked_until) == (0, None)
    assert user.last_sign_in_at is not None


def test_too_many_failures_from_one_address_stop_it_trying_for_a_while(
    database: Engine, app: Flask, redis_url: str
) -> None:
    app.extensions[THROTTLE_EXTENSION] = SignInThrottle(redis_url, limit=3, window_seconds=900)
    username = create_staff(Role.ADMIN)
    for number in range(3):
        try_sign_in(new_client(app), f"guess-{number}", "guess")

    stopped = try_sign_in(new_client(app), username, PASSWORD)

    assert stopped.status_code == 429  # type: ignore[attr-defined]
    assert error_message(stopped) == THROTTLED
    assert audit("user.sign_in")[-1].detail == {"reason": "throttled"}


def _sign_in_from(app: Flask, username: str, password: str, forwarded_for: str) -> object:
    """A sign-in arriving through a proxy that says it came from ``forwarded_for``."""
    client = new_client(app)
    data = {"username": username, "password": password, "csrf_token": client.csrf_token or ""}
    return client.post(
        "/login",
        data=data,
        headers={"X-Forwarded-For": forwarded_for},
        environ_base={"REMOTE_ADDR": "10.0.0.2"},  # the proxy
    )


def test_behind_a_trusted_proxy_the_throttle_counts_each_client_address_apart(
    database: Engine, web_settings: Settings, redis_client: redis.Redis, redis_url: str
) -> None:
    app = create_app(dataclasses.replace(web_settings, trusted_proxies=1))
    app.test_client_class = StaffClient
    app.extensions[THROTTLE_EXTENSION] = SignInThrottle(redis_url, limit=3, window_seconds=900)
    username = create_staff(Role.ADMIN)
    for number in range(3):
        _sign_in_from(app, f"guess-{number}", "guess", "192.0.2.66")

    other = _sign_in_from(app, username, PASSWORD, "192.0.2.10")
    guesser = _sign_in_from(app, username, PASSWORD, "192.0.2.66")
    # Only the last hop is believed: an address the guesser writes in front is not.
    forged = _sign_in_from(app, username, PASSWORD, "192.0.2.99, 192.0.2.66")

    assert other.status_code == 303  # type: ignore[attr-defined]
    assert guesser.status_code == 429  # type: ignore[attr-defined]
    assert forged.status_code == 429  # type: ignore[attr-defined]


def test_with_no_trusted_proxy_forwarded_addresses_are_ignored(
    database: Engine, app: Flask, redis_url: str
) -> None:
    app.extensions[THROTTLE_EXTENSION] = SignInThrottle(redis_url, limit=3, window_seconds=900)
    username = create_staff(Role.ADMIN)
    for number in range(3):
        _sign_in_from(app, f"guess-{number}", "guess", f"192.0.2.{number}")

    stopped = _sign_in_from(app, username, PASSWORD, "192.0.2.10")

    assert stopped.status_code == 429  # type: ignore[attr-defined]


def test_sign_in_and_its_refusals_are_audited_with_ids_and_nothing_typed(
    database: Engine, app: Flask
) -> None:
    username = create_staff(Role.SUPERVISOR)
    try_sign_in(new_client(app), "typed-name-of-nobody", "secret-typed-1")
    try_sign_in(new_client(app), username, "secret-typed-2")
    try_sign_in(new_client(app), username, PASSWORD)

    user_id = str(the_user(username).id)
    rows = [(e.action, e.outcome, e.actor_label, e.object_id, e.detail) for e in audit("user.sign")]
    assert rows == [
        ("user.sign_in", "failure", "anonymous", None, {"reason": "unknown_user"}),
        ("user.sign_in", "failure", "anonymous", user_id, {"reason": "wrong_password"}),
        ("user.sign_in", "success", f"user {user_id}", user_id, {"role": "supervisor"}),
    ]
    everything = json.dumps([str(row) for row in rows])
    for typed in ("typed-name-of-nobody", "secret-typed", PASSWORD, username):
        assert typed not in everything


def test_signing_in_starts_a_fresh_session_and_a_new_csrf_token(
    database: Engine, app: Flask
) -> None:
    username = create_staff(Role.SUPERVISOR)
    client = new_client(app)
    with client.session_transaction() as session:
        session["planted"] = "by someone else"
    old_token = client.csrf_token

    client.sign_in(username)

    with client.session_transaction() as session:
        assert "planted" not in session
        assert session[SIGNED_IN_AT] == session[SEEN_AT]
    assert client.csrf_token != old_token
    stale = client.post("/logout", headers={"X-CSRFToken": old_token or ""})
    assert stale.status_code == 400
    assert client.get("/").status_code == 200  # still signed in


def test_state_changing_requests_without_the_csrf_token_are_refused(
    database: Engine, app: Flask, handler_client: Callable[[int], StaffClient]
) -> None:
    handler_id = make_handler()
    client = handler_client(handler_id)
    url = f"/api/console/{handler_id}/state"

    no_token = client.post(url, json={"state": "available"}, csrf=False)
    wrong_token = client.post(url, json={"state": "away"}, headers={"X-CSRFToken": "forged"})
    form_without = client.post(url, data={"state": "available"}, csrf=False)
    cross_site = client.post(url, json={"state": "away"}, headers={"Sec-Fetch-Site": "cross-site"})
    other_origin = client.post(url, json={"state": "away"}, headers={"Origin": "https://evil.test"})
    login_without = app.test_client().post("/login", data={"username": "x", "password": "y"})

    assert (no_token.status_code, wrong_token.status_code, form_without.status_code) == (
        400,
        400,
        400,
    )
    assert "did not come from this site" in no_token.get_json()["error"]
    assert (cross_site.status_code, other_origin.status_code) == (403, 403)
    assert login_without.status_code == 400
    with session_scope() as session:
        handler = session.get(Handler, handler_id)
        assert handler is not None and handler.state is HandlerState.OFFLINE
    assert client.post(url, json={"state": "available"}).status_code == 200


def test_an_idle_session_ends_after_thirty_minutes_and_is_audited(
    database: Engine, client: StaffClient
) -> None:
    with client.session_transaction() as session:
        session[SEEN_AT] = wall_clock() - 31 * 60

    page = client.get("/live")
    api = client.get("/api/live")

    assert page.status_code == 302 and page.headers["Location"] == "/login?next=/live"
    assert api.status_code == 401
    assert audit("user.sign_out")[-1].detail == {"reason": "idle_timeout"}


def test_a_session_ends_after_twelve_hours_however_busy(
    database: Engine, client: StaffClient
) -> None:
    with client.session_transaction() as session:
        session[SIGNED_IN_AT] = wall_clock() - 12 * 3600 - 1

    assert client.get("/").status_code == 302
    assert audit("user.sign_out")[-1].detail == {"reason": "absolute_timeout"}


def test_a_pages_own_polling_does_not_keep_the_session_alive(
    database: Engine, client: StaffClient
) -> None:
    twenty_minutes_ago = wall_clock() - 20 * 60
    with client.session_transaction() as session:
        session[SEEN_AT] = twenty_minutes_ago

    poll = client.get("/api/live", headers={"X-Background-Refresh": "1"})
    with client.session_transaction() as session:
        after_poll = session[SEEN_AT]
    client.get("/live")
    with client.session_transaction() as session:
        after_click = session[SEEN_AT]

    assert poll.status_code == 200
    assert after_poll == twenty_minutes_ago
    assert after_click > twenty_minutes_ago + 19 * 60


def test_signing_out_ends_the_session(database: Engine, client: StaffClient) -> None:
    response = client.post("/logout")

    assert response.status_code == 303 and response.headers["Location"] == "/login"
    assert client.get("/").status_code == 302
    assert audit("user.sign_out")[-1].detail == {"reason": "signed_out"}
    assert client.get("/logout").status_code == 405  # never by a link another site could show


def test_the_session_cookie_is_httponly_and_samesite_and_secure_in_production(
    database: Engine, web_settings: Settings
) -> None:
    for production in (False, True):
        settings = dataclasses.replace(
            web_settings,
            mode="production" if production else "development",
            twilio_caller_id="+441134960000",
        )
        app = create_app(settings)
        app.test_client_class = StaffClient
        client: StaffClient = app.test_client()  # type: ignore[assignment]
        username = create_staff(Role.SUPERVISOR)
        site = "https://rmc.example.nhs.uk"
        token = client.get("/api/session", base_url=site).get_json()["csrf_token"]
        response = client.post(
            "/login",
            data={"username": username, "password": PASSWORD, "csrf_token": token},
            base_url=site,
        )
        cookie = response.headers["Set-Cookie"]
        assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Path=/" in cookie
        assert ("Secure" in cookie) is production
        assert cookie.startswith("__Host-rmc_session=" if production else "rmc_session=")
        assert "Expires" not in cookie  # ends with the browser session, or sooner (timeouts)


def test_only_local_next_urls_are_followed_after_sign_in(database: Engine, app: Flask) -> None:
    username = create_staff(Role.MANAGER)
    for target, expected in [
        ("/live?x=1", "/live?x=1"),
        ("//evil.example/", "/live"),
        ("https://evil.example/", "/live"),
        ("/\\evil.example", "/live"),
        ("", "/live"),  # a manager starts on the live view
    ]:
        response = try_sign_in(new_client(app), username, PASSWORD, next=target)
        assert response.headers["Location"] == expected, target  # type: ignore[attr-defined]


def test_a_handler_lands_on_their_own_console(database: Engine, app: Flask) -> None:
    handler_id = make_handler()
    client = new_client(app)
    client.sign_in(create_staff(Role.HANDLER, handler_id=handler_id))

    assert client.get("/console").headers["Location"] == f"/console/{handler_id}"
    page = client.get(f"/console/{handler_id}").get_data(as_text=True)
    assert 'name="csrf-token"' in page and 'name="csrf_token"' in page
    assert "Referral queue" not in page  # the menu shows only what they may open


def test_a_supervisors_look_at_a_console_is_audited_and_offers_no_actions(
    database: Engine, client: StaffClient
) -> None:
    handler_id = make_handler()

    page = client.get(f"/console/{handler_id}").get_data(as_text=True)
    client.get(f"/api/console/{handler_id}", headers={"X-Background-Refresh": "1"})

    assert "only they can change it" in page
    assert 'action="/api/console/' not in page
    [look] = audit("console.look")
    assert (look.object_type, look.object_id, look.actor_user_id) == (
        "handler",
        str(handler_id),
        int(look.actor_label.removeprefix("user ")),
    )


def test_twilio_webhooks_never_set_a_cookie(database: Engine, client: StaffClient) -> None:
    response = client.post("/twilio/sms/inbound", data={"Body": "hi"})

    assert response.status_code == 403
    assert "Set-Cookie" not in response.headers
