"""Every route and every role against one explicit table of expected status codes.

The table is the access policy written out: a new route fails this test until it has a row. Each
cell is one request by a fresh client: anonymous, or signed in with that role. ``handler`` uses
their own console where a route names one; ``handler, other`` a colleague's. Requests carry a
valid CSRF token (so the table shows access, not CSRF: that is test_sign_in.py) and an empty
JSON body; Twilio's routes carry no signature, so they are refused (403) whoever asks.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable

import pytest
from flask import Flask
from sqlalchemy import Engine

from rmc_outreach.db import session_scope
from rmc_outreach.models import Handler, HandlerSession, HandlerState, Role
from tests.admin_ui.conftest import StaffClient, create_staff

ANONYMOUS = "anonymous"
HANDLER = "handler"
HANDLER_OTHER = "handler, other"
COLUMNS = (ANONYMOUS, HANDLER, HANDLER_OTHER, "supervisor", "manager", "admin")

PAGE_FOR_SUPERVISORS = (302, 403, 403, 200, 403, 200)
JSON_FOR_SUPERVISORS = (401, 403, 403, 200, 403, 200)
PAGE_FOR_THE_FLOOR = (302, 403, 403, 200, 200, 200)
JSON_FOR_THE_FLOOR = (401, 403, 403, 200, 200, 200)
TWILIO_ONLY = (403, 403, 403, 403, 403, 403)
# A POST about one referral: supervisors and admins reach it (404: no such referral).
ACT_ON_A_REFERRAL = (401, 403, 403, 404, 403, 404)


def act_on_own_console(own: int) -> tuple[int, ...]:
    """A console POST: only the handler themselves reaches it (``own`` is their answer)."""
    return (401, own, 403, 403, 403, 403)


# (rule, method) -> expected status per column (COLUMNS).
EXPECTED: dict[tuple[str, str], tuple[int, ...]] = {
    ("/static/<path:filename>", "GET"): (200, 200, 200, 200, 200, 200),
    ("/healthz", "GET"): (200, 200, 200, 200, 200, 200),
    # Signed-in users are sent on to their start page.
    ("/login", "GET"): (200, 303, 303, 303, 303, 303),
    ("/login", "POST"): (401, 401, 401, 401, 401, 401),  # an empty body: refused
    ("/logout", "POST"): (200, 200, 200, 200, 200, 200),
    ("/api/session", "GET"): (200, 200, 200, 200, 200, 200),
    # Every signed-in user: their own password (an empty form is refused, nothing changed).
    ("/account/password", "GET"): (302, 200, 200, 200, 200, 200),
    ("/account/password", "POST"): (401, 422, 422, 422, 422, 422),
    ("/", "GET"): PAGE_FOR_SUPERVISORS,
    ("/api/queue", "GET"): JSON_FOR_SUPERVISORS,
    ("/live", "GET"): PAGE_FOR_THE_FLOOR,
    ("/api/live", "GET"): JSON_FOR_THE_FLOOR,
    ("/stats", "GET"): PAGE_FOR_THE_FLOOR,
    ("/stats.csv", "GET"): PAGE_FOR_THE_FLOOR,
    # Admins only; an empty form is refused (422), nothing saved.
    ("/stats/assumptions", "GET"): (302, 403, 403, 403, 403, 200),
    ("/stats/assumptions", "POST"): (401, 403, 403, 403, 403, 422),
    # Handlers are sent to their own console; supervisors and admins choose whose.
    ("/console", "GET"): (302, 303, 303, 200, 403, 200),
    ("/console/<int:handler_id>", "GET"): (302, 200, 403, 200, 403, 200),
    ("/api/console/<int:handler_id>", "GET"): (401, 200, 403, 200, 403, 200),
    ("/api/console/<int:handler_id>/state", "POST"): act_on_own_console(422),
    ("/api/console/<int:handler_id>/outcome", "POST"): act_on_own_console(422),
    ("/api/console/<int:handler_id>/work/<int:callback_id>/claim", "POST"): act_on_own_console(404),
    ("/api/console/<int:handler_id>/work/<int:callback_id>/release", "POST"): (
        act_on_own_console(404)
    ),
    ("/api/console/<int:handler_id>/work/<int:callback_id>/complete", "POST"): (
        act_on_own_console(422)
    ),
    ("/api/console/<int:handler_id>/work/<int:callback_id>/call", "POST"): act_on_own_console(404),
    # Referral search and pages: supervisors and admins (404: the test's referral id names none).
    ("/referrals", "GET"): PAGE_FOR_SUPERVISORS,
    ("/referrals/<int:referral_id>", "GET"): (302, 403, 403, 404, 403, 404),
    ("/referrals/<int:referral_id>/reveal", "POST"): ACT_ON_A_REFERRAL,
    ("/referrals/<int:referral_id>/pause", "POST"): ACT_ON_A_REFERRAL,
    ("/referrals/<int:referral_id>/resume", "POST"): ACT_ON_A_REFERRAL,
    ("/referrals/<int:referral_id>/booked", "POST"): ACT_ON_A_REFERRAL,
    ("/referrals/<int:referral_id>/declined", "POST"): ACT_ON_A_REFERRAL,
    ("/referrals/<int:referral_id>/do-not-contact", "POST"): ACT_ON_A_REFERRAL,
    ("/referrals/<int:referral_id>/preferences", "POST"): ACT_ON_A_REFERRAL,
    # The audit log: admins only.
    ("/audit", "GET"): (302, 403, 403, 403, 403, 200),
    # Imports: supervisors and admins (404: the test's import id names none; an empty upload
    # is refused, 422).
    ("/imports", "GET"): PAGE_FOR_SUPERVISORS,
    ("/imports", "POST"): (401, 403, 403, 422, 403, 422),
    ("/imports/<int:job_id>", "GET"): (302, 403, 403, 404, 403, 404),
    ("/api/imports/<int:job_id>", "GET"): (401, 403, 403, 404, 403, 404),
    ("/imports/<int:job_id>/errors.csv", "GET"): (302, 403, 403, 404, 403, 404),
    ("/imports/<int:job_id>/retry", "POST"): (401, 403, 403, 404, 403, 404),
    # Users: admins only (404: the test's user id names none; an empty form is refused, 422).
    ("/admin/users", "GET"): (302, 403, 403, 403, 403, 200),
    ("/admin/users", "POST"): (401, 403, 403, 403, 403, 422),
    ("/admin/users/<int:user_id>", "GET"): (302, 403, 403, 403, 403, 404),
    ("/admin/users/<int:user_id>/role", "POST"): (401, 403, 403, 403, 403, 404),
    ("/admin/users/<int:user_id>/deactivate", "POST"): (401, 403, 403, 403, 403, 404),
    ("/admin/users/<int:user_id>/reactivate", "POST"): (401, 403, 403, 403, 403, 404),
    ("/admin/users/<int:user_id>/unlock", "POST"): (401, 403, 403, 403, 403, 404),
    ("/admin/users/<int:user_id>/password", "POST"): (401, 403, 403, 403, 403, 404),
    # Settings: admins only; an empty form is refused (422), nothing saved.
    ("/admin/settings", "GET"): (302, 403, 403, 403, 403, 200),
    ("/admin/settings", "POST"): (401, 403, 403, 403, 403, 422),
    ("/admin/settings/messages", "GET"): (302, 403, 403, 403, 403, 200),
    ("/admin/settings/messages", "POST"): (401, 403, 403, 403, 403, 422),
    ("/admin/settings/messages/preview", "POST"): (401, 403, 403, 403, 403, 422),
    ("/twilio/voice/<uuid:attempt_id>/answer", "POST"): TWILIO_ONLY,
    ("/twilio/voice/<uuid:attempt_id>/status", "POST"): TWILIO_ONLY,
    ("/twilio/voice/<uuid:attempt_id>/amd", "POST"): TWILIO_ONLY,
    ("/twilio/voice/<uuid:attempt_id>/choice", "POST"): TWILIO_ONLY,
    ("/twilio/voice/<uuid:attempt_id>/wait", "POST"): TWILIO_ONLY,
    ("/twilio/sms/<uuid:attempt_id>/status", "POST"): TWILIO_ONLY,
    ("/twilio/sms/inbound", "POST"): TWILIO_ONLY,
    ("/twilio/voice/inbound", "POST"): TWILIO_ONLY,
    ("/twilio/handoff/<int:handoff_id>/wait", "POST"): TWILIO_ONLY,
    ("/twilio/handoff/<int:handoff_id>/wait-choice", "POST"): TWILIO_ONLY,
    ("/twilio/handoff/<int:handoff_id>/result", "POST"): TWILIO_ONLY,
    ("/twilio/offer/<int:offer_id>/answer", "POST"): TWILIO_ONLY,
    ("/twilio/offer/<int:offer_id>/status", "POST"): TWILIO_ONLY,
    ("/twilio/offer/<int:offer_id>/dial-end", "POST"): TWILIO_ONLY,
    ("/twilio/offer/<int:offer_id>/bridged", "POST"): TWILIO_ONLY,
}


def routes(app: Flask) -> list[tuple[str, str]]:
    """Every (rule, method) the app serves; HEAD and OPTIONS follow GET and Flask itself."""
    return sorted(
        (rule.rule, method)
        for rule in app.url_map.iter_rules()
        for method in (rule.methods or set()) - {"HEAD", "OPTIONS"}
    )


def make_handler(name: str) -> int:
    """A handler record, offline."""
    with session_scope() as session:
        handler = Handler(display_name=name, endpoint=f"client:{name.lower()}")
        session.add(handler)
        session.flush()
        session.add(HandlerSession(handler_id=handler.id, state=HandlerState.OFFLINE))
        return handler.id


def fill(rule: str, handler_id: int) -> str:
    """The rule with a value for every variable part."""
    values = {
        "<path:filename>": "app.css",
        "<int:handler_id>": str(handler_id),
        "<int:callback_id>": "999999",
        "<int:handoff_id>": "999999",
        "<int:offer_id>": "999999",
        "<int:referral_id>": "999999",
        "<int:job_id>": "999999",
        "<int:user_id>": "999999",
        "<uuid:attempt_id>": str(uuid.uuid4()),
    }
    for part, value in values.items():
        rule = rule.replace(part, value)
    assert "<" not in rule, f"give the test a value for {rule}"
    return rule


def test_every_route_has_a_row_in_the_access_table(app: Flask) -> None:
    served = set(routes(app))
    missing = sorted(served - set(EXPECTED))
    stale = sorted(set(EXPECTED) - served)
    assert not missing, f"routes with no row in EXPECTED (add who may reach them): {missing}"
    assert not stale, f"rows for routes that no longer exist: {stale}"


def test_every_route_answers_every_role_as_the_table_says(database: Engine, app: Flask) -> None:
    own = make_handler("Own")
    other = make_handler("Other")
    create_staff(Role.HANDLER, username="the-handler", handler_id=own)
    usernames = {"supervisor": "", "manager": "", "admin": ""}
    for role in usernames:
        usernames[role] = create_staff(Role(role))

    def client_for(column: str) -> StaffClient:
        client: StaffClient = app.test_client()  # type: ignore[assignment]
        if column == ANONYMOUS:
            client.fresh_csrf_token()
        elif column in (HANDLER, HANDLER_OTHER):
            client.sign_in("the-handler")
        else:
            client.sign_in(usernames[column])
        return client

    wrong: list[str] = []
    for (rule, method), expected in sorted(EXPECTED.items()):
        assert len(expected) == len(COLUMNS), f"{rule} {method}: one status per column"
        for column, status in zip(COLUMNS, expected, strict=True):
            path = fill(rule, other if column == HANDLER_OTHER else own)
            client = client_for(column)
            send: Callable[..., object] = client.get if method == "GET" else client.post
            kwargs: dict[str, object] = {} if method == "GET" else {"json": {}}
            response = send(path, **kwargs)
            actual = response.status_code  # type: ignore[attr-defined]
            if actual != status:
                wrong.append(f"{method} {path} as {column}: {actual}, expected {status}")
    assert not wrong, "\n".join(wrong)


@pytest.mark.parametrize("path", ["/", "/live", "/console", "/console/1"])
def test_an_anonymous_page_request_is_sent_to_sign_in_and_back(
    database: Engine, app: Flask, path: str
) -> None:
    response = app.test_client().get(path + "?view=1")

    assert response.status_code == 302
    assert response.headers["Location"] == f"/login?next={path}?view%3D1"


def test_anonymous_json_gets_401_json_not_a_redirect(database: Engine, app: Flask) -> None:
    response = app.test_client().get("/api/live")

    assert response.status_code == 401
    assert response.get_json() == {"error": "sign in first", "sign_in": "/login"}
