"""The handler console: state changes, the screen-pop, claims, and the page and JSON agreeing.

Every test runs on SQLite and PostgreSQL at a frozen moment inside the calling window. The
outcomes' effects on the journey are in test_console_outcomes.py.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import Engine, select

from admin_ui.webhooks import ENQUEUE_EXTENSION
from rmc_outreach.clock import frozen_at
from rmc_outreach.db import session_scope
from rmc_outreach.identifiers import format_nhs_number
from rmc_outreach.models import (
    AttemptOutcome,
    AttemptState,
    AuditEvent,
    CallbackRequest,
    Channel,
    Handler,
    HandlerSession,
    HandlerState,
    Handoff,
    Priority,
    ReferralStatus,
    Role,
)
from tests.factories import create_attempt, create_patient, create_referral

LONDON = ZoneInfo("Europe/London")
# Tuesday 16 June 2026, 14:30 in London (BST): inside the calling window.
NOW = datetime(2026, 6, 16, 14, 30, tzinfo=LONDON)


def ago(seconds: int) -> datetime:
    """A moment ``seconds`` before NOW."""
    return NOW - timedelta(seconds=seconds)


@pytest.fixture
def client(acting_handler_client: FlaskClient) -> FlaskClient:
    """Each request as the handler whose console it names (who may use which console is tested
    in test_route_access.py)."""
    return acting_handler_client


@pytest.fixture
def frozen() -> Iterator[None]:
    """The clock stopped at NOW for the whole test."""
    with frozen_at(NOW):
        yield


@pytest.fixture
def enqueued(app: Flask) -> list[tuple[str, list[Any]]]:
    """Tasks the console asks for (the ACD's connect-handlers), recorded instead of sent."""
    sent: list[tuple[str, list[Any]]] = []
    app.extensions[ENQUEUE_EXTENSION] = lambda name, args: sent.append((name, args))
    return sent


@dataclass
class Floor:
    """Ids of what was made, and every personal detail used (none may leak unmasked)."""

    handlers: dict[str, int] = field(default_factory=dict)
    handoff_id: int = 0
    referral_id: int = 0
    callbacks: dict[str, int] = field(default_factory=dict)
    name: str = ""
    nhs_number: str = ""
    ubrn: str = ""
    secrets: list[str] = field(default_factory=list)


def make_handler(session: Any, name: str, state: HandlerState, seconds: int = 60) -> Handler:
    """A handler in ``state`` since ``seconds`` ago."""
    handler = Handler(
        display_name=name,
        endpoint=f"client:{name.lower()}",
        state=state,
        state_changed_at=ago(seconds),
    )
    session.add(handler)
    session.flush()
    session.add(HandlerSession(handler_id=handler.id, state=state, started_at=ago(seconds)))
    return handler


def make_floor() -> Floor:
    """Asha on a call with an urgent cardiology patient (landline only, no voicemail, Welsh); Ben
    available; Cara away; two callback requests (one an SMS reply) and an earlier handoff with a
    note."""
    floor = Floor()
    with session_scope() as session:
        asha = make_handler(session, "Asha", HandlerState.ON_CALL, 95)
        ben = make_handler(session, "Ben", HandlerState.AVAILABLE, 30)
        cara = make_handler(session, "Cara", HandlerState.AWAY, 600)
        patient = create_patient(
            session,
            no_voicemail=True,
            landline_only=True,
            language="Welsh",
            landline_phone="+441632960111",
        )
        referral = create_referral(
            session,
            patient=patient,
            specialty="Cardiology",
            priority=Priority.URGENT,
            status=ReferralStatus.REACHED,
            reached_at=ago(120),
            reached_by=Channel.CALL,
        )
        create_attempt(
            session,
            referral,
            state=AttemptState.FINAL,
            outcome=AttemptOutcome.NO_ANSWER,
            created_at=ago(86400),
            claimed_at=ago(86400),
        )
        attempt = create_attempt(
            session,
            referral,
            step=2,
            state=AttemptState.SENT,
            created_at=ago(150),
            claimed_at=ago(150),
            answered_at=ago(140),
            keypad_choice="1",
            provider_sid="CA" + uuid.uuid4().hex,
        )
        session.add(
            Handoff(
                referral_id=referral.id,
                handler_id=cara.id,
                queued_at=ago(86000),
                connected_at=ago(85990),
                ended_at=ago(85900),
                wrap_up_ended_at=ago(85800),
                outcome="other",
                note="Asked us to ring after lunch",
            )
        )
        handoff = Handoff(
            attempt_id=attempt.id,
            referral_id=referral.id,
            handler_id=asha.id,
            queued_at=ago(110),
            connected_at=ago(95),
        )
        session.add(handoff)
        other = create_referral(session, priority=Priority.TWO_WEEK_WAIT, specialty="Dermatology")
        reply = CallbackRequest(
            referral_id=other.id,
            reason="sms_reply",
            phone=other.patient.mobile_phone,
            created_at=ago(3000),
            due_at=ago(3000),
        )
        later = CallbackRequest(
            referral_id=None,
            reason="no_handler",
            phone="+447700900555",
            created_at=ago(60),
            due_at=NOW + timedelta(hours=1),
        )
        session.add_all([reply, later])
        session.flush()
        floor.handlers = {"Asha": asha.id, "Ben": ben.id, "Cara": cara.id}
        floor.handoff_id = handoff.id
        floor.referral_id = referral.id
        floor.callbacks = {"reply": reply.id, "later": later.id}
        floor.name = f"{patient.given_name} {patient.family_name}"
        floor.nhs_number = patient.nhs_number
        floor.ubrn = referral.ubrn
        for person in (patient, other.patient):
            for number in (person.mobile_phone, person.landline_phone):
                if number:
                    floor.secrets += [number, "0" + number.removeprefix("+44")]
            floor.secrets += [person.nhs_number, format_nhs_number(person.nhs_number)]
        floor.secrets += ["+447700900555", "07700900555"]
    return floor


def console(client: FlaskClient, handler_id: int) -> dict[str, Any]:
    """The console JSON of a handler."""
    response = client.get(f"/api/console/{handler_id}")
    assert response.status_code == 200
    body: dict[str, Any] = response.get_json()
    return body


def state_of(handler_id: int) -> HandlerState:
    """The handler's state in the database."""
    with session_scope() as session:
        handler = session.get(Handler, handler_id)
        assert handler is not None
        return handler.state


def test_a_handler_signs_in_goes_away_and_comes_back_through_the_api(
    database: Engine, client: FlaskClient, frozen: None, enqueued: list[tuple[str, list[Any]]]
) -> None:
    floor = make_floor()
    ben = floor.handlers["Ben"]

    away = client.post(f"/api/console/{ben}/state", json={"state": "away"})
    back = client.post(f"/api/console/{ben}/state", json={"state": "available"})

    assert (away.status_code, away.get_json()) == (200, {"state": "away"})
    assert (back.status_code, back.get_json()) == (200, {"state": "available"})
    assert state_of(ben) is HandlerState.AVAILABLE
    assert enqueued == [("connect-handlers", [])]  # the ACD pairs a newly available handler
    with session_scope() as session:
        spells = session.scalars(
            select(HandlerSession.state)
            .where(HandlerSession.handler_id == ben)
            .order_by(HandlerSession.id)
        ).all()
    assert spells[-2:] == [HandlerState.AWAY, HandlerState.AVAILABLE]


def test_a_handler_on_a_call_cannot_sign_out_and_is_told_why_with_a_409(
    database: Engine, client: FlaskClient, frozen: None, enqueued: list[tuple[str, list[Any]]]
) -> None:
    floor = make_floor()
    asha = floor.handlers["Asha"]

    response = client.post(f"/api/console/{asha}/state", json={"state": "offline"})

    assert response.status_code == 409
    assert "cannot sign off mid-call" in response.get_json()["error"]
    assert state_of(asha) is HandlerState.ON_CALL


@pytest.mark.parametrize("state", ["on_call", "ringing", "wrap_up", "", "busy"])
def test_states_the_acd_sets_cannot_be_chosen_on_the_console(
    database: Engine, client: FlaskClient, frozen: None, state: str
) -> None:
    floor = make_floor()

    response = client.post(f"/api/console/{floor.handlers['Ben']}/state", json={"state": state})

    assert response.status_code == 422
    assert response.get_json()["field"] == "state"
    assert state_of(floor.handlers["Ben"]) is HandlerState.AVAILABLE


def test_an_unknown_handler_is_a_404_to_those_who_may_look(
    database: Engine, staff_client: Callable[[Role], FlaskClient]
) -> None:
    admin = staff_client(Role.ADMIN)
    assert admin.get("/api/console/999999").status_code == 404
    assert admin.get("/console/999999").status_code == 404
    # Nobody acts on a console but its handler: refused before the handler is looked up.
    assert admin.post("/api/console/999999/state", json={"state": "away"}).status_code == 403


def test_the_screen_pop_shows_the_connected_patient_with_masked_identifiers(
    database: Engine, client: FlaskClient, frozen: None
) -> None:
    floor = make_floor()

    body = console(client, floor.handlers["Asha"])

    assert body["handler"] == {
        "id": floor.handlers["Asha"],
        "display_name": "Asha",
        "state": "on_call",
        "state_label": "On a call",
        "seconds_in_state": 95,
    }
    connected = body["connected"]
    assert connected["handoff_id"] == floor.handoff_id
    assert connected["patient_name"] == floor.name
    assert connected["seconds_connected"] == 95
    card = connected["referral"]
    assert card["ubrn"] == floor.ubrn
    assert card["nhs_number_masked"] == "*** *** " + floor.nhs_number[-4:]
    assert (card["specialty"], card["priority"]) == ("Cardiology", "urgent")
    assert card["flags"] == ["Landline only", "No voicemail", "Language: Welsh"]
    assert [phone["kind"] for phone in card["phones"]] == ["Mobile", "Landline"]
    journey = [(entry["kind"], entry["what"], entry["outcome"]) for entry in card["journey"]]
    assert journey == [
        ("handoff", "Handoff", "Connected now"),
        ("attempt", "Call (step 2)", "Under way (sent)"),
        ("handoff", "Handoff", "Other"),
        ("attempt", "Call (step 1)", "No answer"),
    ]
    earlier = card["journey"][2]
    assert (earlier["handler"], earlier["note"]) == ("Cara", "Asked us to ring after lunch")
    assert body["wrap_up"] is None
    text = json.dumps(body)
    for secret in floor.secrets:
        assert secret not in text


def test_the_work_list_is_due_first_with_who_claimed_each(
    database: Engine, client: FlaskClient, frozen: None
) -> None:
    floor = make_floor()
    ben = floor.handlers["Ben"]
    claim = client.post(
        f"/api/console/{floor.handlers['Cara']}/work/{floor.callbacks['later']}/claim"
    )
    assert claim.status_code == 200

    work = console(client, ben)["work"]

    assert [(item["id"], item["kind"], item["is_due"]) for item in work] == [
        (floor.callbacks["reply"], "sms_reply", True),
        (floor.callbacks["later"], "callback", False),
    ]
    assert [(item["claimed_by"], item["claimed_by_me"]) for item in work] == [
        (None, False),
        ("Cara", False),
    ]
    assert work[0]["priority"] == "2ww"
    assert work[1]["ubrn"] is None
    assert work[1]["phone_masked"] == "07700 9•• •55"


def test_only_one_handler_can_claim_a_callback(
    database: Engine, client: FlaskClient, frozen: None
) -> None:
    floor = make_floor()
    reply = floor.callbacks["reply"]
    ben, cara = floor.handlers["Ben"], floor.handlers["Cara"]

    first = client.post(f"/api/console/{ben}/work/{reply}/claim")
    second = client.post(f"/api/console/{cara}/work/{reply}/claim")
    again = client.post(f"/api/console/{ben}/work/{reply}/claim")

    assert first.status_code == 200
    assert second.status_code == 409
    assert "claimed by another handler" in second.get_json()["error"]
    assert again.status_code == 200
    with session_scope() as session:
        request = session.get(CallbackRequest, reply)
        assert request is not None
        assert request.claimed_by_handler_id == ben
        assert request.claimed_at == NOW
    assert console(client, ben)["work"][0]["claimed_by_me"] is True

    release = client.post(f"/api/console/{cara}/work/{reply}/release")
    assert release.status_code == 409
    assert client.post(f"/api/console/{ben}/work/{reply}/release").status_code == 200
    assert client.post(f"/api/console/{cara}/work/{reply}/claim").status_code == 200
    assert client.post(f"/api/console/{cara}/work/999999/claim").status_code == 404


def test_looking_at_the_screen_pop_is_audited_without_personal_data(
    database: Engine, client: FlaskClient, frozen: None
) -> None:
    floor = make_floor()
    asha = floor.handlers["Asha"]

    for _ in range(3):  # the page's 2-second poll: one look, recorded once
        console(client, asha)
    client.get(f"/console/{asha}")  # a page load is a look of its own

    with session_scope() as session:
        events = session.scalars(
            select(AuditEvent).where(AuditEvent.action == "console.screen_pop_view")
        ).all()
        rows = [
            (event.actor_label, event.object_type, event.object_id, event.detail)
            for event in events
        ]
    expected = (
        f"handler {asha}",
        "referral",
        str(floor.referral_id),
        {"handoff_id": floor.handoff_id, "stage": "connected"},
    )
    assert rows == [expected, expected]
    text = json.dumps(rows)
    for secret in [*floor.secrets, floor.name]:
        assert secret not in text
    console(client, floor.handlers["Ben"])  # nobody on Ben's line: nothing to audit
    with session_scope() as session:
        looks = select(AuditEvent.id).where(AuditEvent.action.not_like("user.%"))
        assert len(session.scalars(looks).all()) == 2


def test_the_page_shows_what_the_json_says(
    database: Engine, client: FlaskClient, frozen: None
) -> None:
    floor = make_floor()
    asha = floor.handlers["Asha"]

    body = console(client, asha)
    html = client.get(f"/console/{asha}").get_data(as_text=True)

    card = body["connected"]["referral"]
    for text in (
        body["connected"]["patient_name"].replace("'", "&#39;"),
        card["nhs_number_masked"],
        card["ubrn"],
        card["specialty"],
        "Urgent",
        "Landline only",
        "No voicemail",
        "Language: Welsh",
        "Asked us to ring after lunch",
        f'data-handoff="{floor.handoff_id}"',
        "On a call",
        "1 min 35 s",
    ):
        assert text in html, text
    for item in body["work"]:
        assert f'data-work-id="{item["id"]}"' in html
        assert item["reason_label"] in html
    for secret in floor.secrets:
        assert secret not in html
    assert 'src="/static/console.js"' in html
    assert "<script>" not in html and "style=" not in html
    assert 'aria-current="page"' in html and "Handler console" in html


def test_the_picker_lists_every_handler_for_a_supervisor(
    database: Engine, staff_client: Callable[[Role], FlaskClient]
) -> None:
    floor = make_floor()

    html = staff_client(Role.SUPERVISOR).get("/console").get_data(as_text=True)

    for name, handler_id in floor.handlers.items():
        assert f'href="/console/{handler_id}">{name}</a>' in html


def test_forms_post_and_redirect_back_to_the_console(
    database: Engine, client: FlaskClient, frozen: None, enqueued: list[tuple[str, list[Any]]]
) -> None:
    floor = make_floor()
    ben = floor.handlers["Ben"]

    response = client.post(f"/api/console/{ben}/state", data={"state": "away"})

    assert response.status_code == 303
    assert response.headers["Location"].endswith(f"/console/{ben}")
    page = client.get(f"/console/{ben}").get_data(as_text=True)
    assert "You are now away." in page
    refused = client.post(f"/api/console/{floor.handlers['Asha']}/state", data={"state": "offline"})
    assert refused.status_code == 409
    assert "There is a problem" in refused.get_data(as_text=True)


def test_a_post_from_another_site_is_refused(
    database: Engine, client: FlaskClient, frozen: None
) -> None:
    floor = make_floor()
    ben = floor.handlers["Ben"]

    for headers in (
        {"Origin": "https://evil.example"},
        {"Sec-Fetch-Site": "cross-site", "Origin": "null"},
        {"Sec-Fetch-Site": "same-site"},
    ):
        response = client.post(f"/api/console/{ben}/state", data={"state": "away"}, headers=headers)
        assert response.status_code == 403
    assert state_of(ben) is HandlerState.AVAILABLE
    # Our own page's form: the browser says same-origin (Origin is "null" under no-referrer).
    own = client.post(
        f"/api/console/{ben}/state",
        data={"state": "away"},
        headers={"Sec-Fetch-Site": "same-origin", "Origin": "null"},
    )
    assert own.status_code == 303


def test_call_this_patient_now_claims_the_request_then_asks_the_acd(
    database: Engine, client: FlaskClient, app: Flask, frozen: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    from admin_ui.console import PROVIDER_EXTENSION
    from rmc_outreach import acd

    floor = make_floor()
    ben, reply = floor.handlers["Ben"], floor.callbacks["reply"]
    provider = object()
    calls: list[tuple[Any, ...]] = []
    app.extensions[PROVIDER_EXTENSION] = lambda: provider
    monkeypatch.setattr(acd, "call_patient_now", lambda *args: calls.append(args), raising=False)

    response = client.post(f"/api/console/{ben}/work/{reply}/call")
    taken = client.post(f"/api/console/{floor.handlers['Cara']}/work/{reply}/call")

    assert response.status_code == 202
    assert taken.status_code == 409
    assert len(calls) == 1
    assert calls[0][:3] == (reply, ben, provider)
    with session_scope() as session:
        request = session.get(CallbackRequest, reply)
        assert request is not None and request.claimed_by_handler_id == ben


def test_call_this_patient_now_says_501_while_the_acd_cannot_place_it(
    database: Engine, client: FlaskClient, frozen: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    from rmc_outreach import acd

    floor = make_floor()
    monkeypatch.delattr(acd, "call_patient_now", raising=False)

    response = client.post(
        f"/api/console/{floor.handlers['Ben']}/work/{floor.callbacks['reply']}/call"
    )

    assert response.status_code == 501
    assert "not available yet" in response.get_json()["error"]


def test_a_refusal_from_the_acd_is_a_409_with_its_reason_code(
    database: Engine, client: FlaskClient, app: Flask, frozen: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    from admin_ui.console import PROVIDER_EXTENSION
    from rmc_outreach import acd
    from rmc_outreach.acd.errors import HandlerNotAvailable

    floor = make_floor()
    app.extensions[PROVIDER_EXTENSION] = object

    def refuse(*args: Any) -> None:
        raise HandlerNotAvailable("only an available handler can start a call")

    monkeypatch.setattr(acd, "call_patient_now", refuse)

    response = client.post(
        f"/api/console/{floor.handlers['Ben']}/work/{floor.callbacks['reply']}/call"
    )

    assert response.status_code == 409
    assert response.get_json()["code"] == "handler_not_available"
