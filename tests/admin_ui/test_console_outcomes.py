"""Recording a handler's outcome on the console: its effect on the referral and the journey.

A handler wrapping up a call with a reached patient who still has a text queued (pending) and an
older call-back request open. Each outcome is posted to /api/console/<id>/outcome on SQLite and
PostgreSQL at a frozen moment inside the calling window; bad input is refused with 422 naming
the field and nothing is written.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import Engine, func, select

from admin_ui.webhooks import ENQUEUE_EXTENSION
from rmc_outreach.clock import frozen_at
from rmc_outreach.db import session_scope
from rmc_outreach.models import (
    AttemptOutcome,
    AttemptState,
    AuditEvent,
    CallbackRequest,
    Channel,
    ContactAttempt,
    Handler,
    HandlerSession,
    HandlerState,
    Handoff,
    Patient,
    Referral,
    ReferralStatus,
)
from tests.factories import create_attempt, create_patient, create_referral

LONDON = ZoneInfo("Europe/London")
# Tuesday 16 June 2026, 14:30 in London (BST): inside the calling window.
NOW = datetime(2026, 6, 16, 14, 30, tzinfo=LONDON)
MOBILE = "+447700900321"
LANDLINE = "+441632960321"


@pytest.fixture
def client(acting_handler_client: FlaskClient) -> FlaskClient:
    """Each request as the handler whose console it names (who may use which console is tested
    in test_route_access.py)."""
    return acting_handler_client


@pytest.fixture(autouse=True)
def frozen(app: Flask) -> Iterator[None]:
    """The clock stopped at NOW; tasks recorded, not sent."""
    app.extensions[ENQUEUE_EXTENSION] = lambda name, args: None
    with frozen_at(NOW):
        yield


@dataclass
class WrapUp:
    """Ids of the handler in wrap-up and what their call was about."""

    handler_id: int
    handoff_id: int
    referral_id: int
    patient_id: int
    sms_attempt_id: uuid.UUID
    old_callback_id: int


def make_wrap_up(
    *,
    landline: str | None = LANDLINE,
    on_call: bool = False,
    called: str = MOBILE,
    landline_only: bool = False,
) -> WrapUp:
    """Dev wrapping up (or still on) a call with a reached patient, called on their mobile (or
    on ``called``)."""
    with session_scope() as session:
        handler = Handler(
            display_name="Dev",
            endpoint="client:dev",
            state=HandlerState.ON_CALL if on_call else HandlerState.WRAP_UP,
            state_changed_at=NOW - timedelta(seconds=20),
        )
        session.add(handler)
        session.flush()
        session.add(
            HandlerSession(
                handler_id=handler.id, state=handler.state, started_at=handler.state_changed_at
            )
        )
        patient = create_patient(
            session, mobile_phone=MOBILE, landline_phone=landline, landline_only=landline_only
        )
        referral = create_referral(
            session,
            patient=patient,
            status=ReferralStatus.REACHED,
            reached_at=NOW - timedelta(minutes=5),
            reached_by=Channel.CALL,
        )
        call = create_attempt(
            session,
            referral,
            state=AttemptState.FINAL,
            outcome=AttemptOutcome.HUMAN_HANDOFF,
            destination=called,
            provider_sid="CA" + uuid.uuid4().hex,
        )
        sms = create_attempt(session, referral, channel=Channel.SMS, step=2, destination=MOBILE)
        handoff = Handoff(
            attempt_id=call.id,
            referral_id=referral.id,
            handler_id=handler.id,
            queued_at=NOW - timedelta(minutes=5),
            connected_at=NOW - timedelta(minutes=4),
            ended_at=None if on_call else NOW - timedelta(seconds=20),
        )
        old = CallbackRequest(
            referral_id=referral.id,
            reason="no_handler",
            phone=MOBILE,
            created_at=NOW - timedelta(days=1),
            due_at=NOW - timedelta(days=1),
        )
        session.add_all([handoff, old])
        session.flush()
        return WrapUp(handler.id, handoff.id, referral.id, patient.id, sms.id, old.id)


def post_outcome(client: FlaskClient, wrap: WrapUp, **fields: Any) -> Any:
    """POST the outcome as JSON."""
    return client.post(
        f"/api/console/{wrap.handler_id}/outcome",
        json={"handoff_id": wrap.handoff_id, **fields},
    )


@dataclass
class After:
    """What the database holds after the outcome."""

    handler_state: HandlerState
    handoff: Handoff
    referral: Referral
    patient: Patient
    sms: ContactAttempt
    old_callback: CallbackRequest
    new_callbacks: list[CallbackRequest]
    audit: list[AuditEvent]


def read_after(wrap: WrapUp) -> After:
    """Everything an outcome can change."""
    with session_scope() as session:
        session.expire_on_commit = False
        handler = session.get(Handler, wrap.handler_id)
        handoff = session.get(Handoff, wrap.handoff_id)
        referral = session.get(Referral, wrap.referral_id)
        patient = session.get(Patient, wrap.patient_id)
        sms = session.get(ContactAttempt, wrap.sms_attempt_id)
        old = session.get(CallbackRequest, wrap.old_callback_id)
        assert handler and handoff and referral and patient and sms and old
        new = list(
            session.scalars(
                select(CallbackRequest)
                .where(CallbackRequest.id != wrap.old_callback_id)
                .order_by(CallbackRequest.id)
            )
        )
        audit = list(
            session.scalars(
                select(AuditEvent)
                .where(AuditEvent.action.not_like("user.%"))  # the handler's sign-in
                .order_by(AuditEvent.id)
            )
        )
        session.expunge_all()
        return After(handler.state, handoff, referral, patient, sms, old, new, audit)


def assert_wrapped_up(after: After, outcome: str) -> None:
    """The handoff carries the outcome, wrap-up ended now, the handler is available."""
    assert after.handoff.outcome == outcome
    assert after.handoff.wrap_up_ended_at == NOW
    assert after.handler_state is HandlerState.AVAILABLE
    assert [event.action for event in after.audit] == ["handoff.outcome"]
    assert after.audit[0].detail["outcome"] == outcome
    text = json.dumps([event.detail for event in after.audit])
    for secret in (MOBILE, LANDLINE, after.patient.nhs_number, after.patient.family_name):
        assert secret not in text


def test_booked_closes_the_referral_and_stops_every_channel(
    database: Engine, client: FlaskClient
) -> None:
    wrap = make_wrap_up()

    response = post_outcome(
        client, wrap, outcome="booked", booked_for="2026-06-23", clinic="St James's Cardiology"
    )

    assert response.status_code == 200
    assert response.get_json()["referral_status"] == "booked"
    after = read_after(wrap)
    assert_wrapped_up(after, "booked")
    assert after.referral.status is ReferralStatus.BOOKED
    assert (after.referral.next_action_at, after.referral.next_channel) == (None, None)
    assert (after.sms.state, after.sms.outcome) == (AttemptState.FINAL, AttemptOutcome.CANCELED)
    assert (after.old_callback.completed_at, after.old_callback.outcome) == (NOW, "booked")
    assert after.new_callbacks == []
    assert after.handoff.note == "Booked for Tue 23 Jun 2026 at St James's Cardiology."
    assert after.audit[0].detail["booked_for"] == "2026-06-23"


def test_declined_closes_the_referral_and_stops_every_channel(
    database: Engine, client: FlaskClient
) -> None:
    wrap = make_wrap_up()

    response = post_outcome(client, wrap, outcome="declined", note="Seen privately")

    assert response.status_code == 200
    after = read_after(wrap)
    assert_wrapped_up(after, "declined")
    assert after.referral.status is ReferralStatus.DECLINED
    assert after.sms.outcome is AttemptOutcome.CANCELED
    assert after.old_callback.outcome == "declined"
    assert after.handoff.note == "Seen privately"


def test_call_back_makes_a_request_due_at_the_time_chosen(
    database: Engine, client: FlaskClient
) -> None:
    wrap = make_wrap_up()

    response = post_outcome(client, wrap, outcome="callback", callback_at="2026-06-17T10:15")

    assert response.status_code == 200
    after = read_after(wrap)
    assert_wrapped_up(after, "callback")
    assert after.referral.status is ReferralStatus.REACHED
    [request] = after.new_callbacks
    assert request.due_at == datetime(2026, 6, 17, 10, 15, tzinfo=LONDON)
    assert (request.reason, request.phone, request.referral_id) == (
        "patient_asked",
        MOBILE,
        wrap.referral_id,
    )
    assert response.get_json()["callback_request_id"] == request.id


def test_wrong_number_takes_the_number_off_and_hands_the_other_phone_to_a_person(
    database: Engine, client: FlaskClient
) -> None:
    wrap = make_wrap_up()

    response = post_outcome(client, wrap, outcome="wrong_number")

    assert response.status_code == 200
    assert response.get_json()["number_removed"] == "mobile"
    after = read_after(wrap)
    assert_wrapped_up(after, "wrong_number")
    assert (after.patient.mobile_phone, after.patient.landline_phone) == (None, LANDLINE)
    assert after.referral.status is ReferralStatus.EXHAUSTED
    assert after.referral.journey_end_reason == "wrong_number"
    assert after.sms.outcome is AttemptOutcome.CANCELED
    [request] = after.new_callbacks
    assert (request.reason, request.phone, request.due_at) == (
        "wrong_number_other_phone",
        LANDLINE,
        NOW,
    )


def test_wrong_number_with_no_other_phone_hands_the_referral_back_to_staff(
    database: Engine, client: FlaskClient
) -> None:
    wrap = make_wrap_up(landline=None)

    assert post_outcome(client, wrap, outcome="wrong_number").status_code == 200

    after = read_after(wrap)
    assert after.patient.mobile_phone is None
    assert after.referral.status is ReferralStatus.EXHAUSTED
    assert after.new_callbacks == []


def test_a_wrong_landline_of_a_landline_only_patient_is_never_followed_up_on_the_mobile(
    database: Engine, client: FlaskClient
) -> None:
    wrap = make_wrap_up(called=LANDLINE, landline_only=True)

    response = post_outcome(client, wrap, outcome="wrong_number")

    assert response.status_code == 200
    assert response.get_json()["number_removed"] == "landline"
    after = read_after(wrap)
    assert (after.patient.mobile_phone, after.patient.landline_phone) == (MOBILE, None)
    assert after.referral.status is ReferralStatus.EXHAUSTED
    assert after.new_callbacks == []  # a person checks the record; nobody rings the mobile


def test_not_the_patient_keeps_the_number_and_tries_again_later(
    database: Engine, client: FlaskClient
) -> None:
    wrap = make_wrap_up()

    response = post_outcome(client, wrap, outcome="not_patient")

    assert response.status_code == 200
    after = read_after(wrap)
    assert_wrapped_up(after, "not_patient")
    assert after.patient.mobile_phone == MOBILE
    assert after.referral.status is ReferralStatus.REACHED
    [request] = after.new_callbacks
    assert (request.reason, request.phone) == ("not_patient", MOBILE)
    assert request.due_at == NOW + timedelta(hours=2)


def test_other_with_a_note_changes_nothing_but_the_handoff(
    database: Engine, client: FlaskClient
) -> None:
    wrap = make_wrap_up()

    response = post_outcome(client, wrap, outcome="other", note="Line dropped; will call back")

    assert response.status_code == 200
    after = read_after(wrap)
    assert_wrapped_up(after, "other")
    assert after.referral.status is ReferralStatus.REACHED
    assert after.sms.state is AttemptState.PENDING
    assert after.handoff.note == "Line dropped; will call back"


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"outcome": "other"}, "note"),
        ({"outcome": "other", "note": "   "}, "note"),
        ({"outcome": "booked", "clinic": "Leeds"}, "booked_for"),
        ({"outcome": "booked", "booked_for": "2026-06-23"}, "clinic"),
        ({"outcome": "booked", "booked_for": "23/06/2026", "clinic": "Leeds"}, "booked_for"),
        ({"outcome": "booked", "booked_for": "2026-06-15", "clinic": "Leeds"}, "booked_for"),
        ({"outcome": "callback"}, "callback_at"),
        ({"outcome": "callback", "callback_at": "2026-06-16T13:00"}, "callback_at"),
        ({"outcome": "callback", "callback_at": "2026-06-16T19:00"}, "callback_at"),
        ({"outcome": "callback", "callback_at": "2026-06-20T10:00"}, "callback_at"),
        ({"outcome": "callback", "callback_at": "soon"}, "callback_at"),
        ({"outcome": "no_answer"}, "outcome"),
        ({"outcome": "maybe"}, "outcome"),
        ({}, "outcome"),
        ({"outcome": "declined", "note": "x" * 2001}, "note"),
    ],
)
def test_bad_input_is_refused_with_422_naming_the_field_and_nothing_is_written(
    database: Engine, client: FlaskClient, fields: dict[str, Any], field: str
) -> None:
    wrap = make_wrap_up()

    response = post_outcome(client, wrap, **fields)

    assert response.status_code == 422
    assert response.get_json()["field"] == field
    after = read_after(wrap)
    assert after.handler_state is HandlerState.WRAP_UP
    assert (after.handoff.outcome, after.handoff.wrap_up_ended_at) == (None, None)
    assert after.referral.status is ReferralStatus.REACHED
    assert after.sms.state is AttemptState.PENDING
    assert after.new_callbacks == [] and after.audit == []


def test_a_missing_handoff_id_is_a_422_and_an_unknown_one_a_404(
    database: Engine, client: FlaskClient
) -> None:
    wrap = make_wrap_up()
    url = f"/api/console/{wrap.handler_id}/outcome"

    missing = client.post(url, json={"outcome": "declined"})
    unknown = client.post(url, json={"handoff_id": 999999, "outcome": "declined"})

    assert (missing.status_code, missing.get_json()["field"]) == (422, "handoff_id")
    assert unknown.status_code == 404


def test_the_outcome_waits_for_the_call_to_end_and_is_recorded_once(
    database: Engine, client: FlaskClient
) -> None:
    on_call = make_wrap_up(on_call=True)

    early = post_outcome(client, on_call, outcome="declined")

    assert early.status_code == 409
    assert "still connected" in early.get_json()["error"]
    assert read_after(on_call).referral.status is ReferralStatus.REACHED


def test_a_second_outcome_or_another_handlers_is_refused(
    database: Engine, client: FlaskClient
) -> None:
    wrap = make_wrap_up()
    assert post_outcome(client, wrap, outcome="declined").status_code == 200

    again = post_outcome(client, wrap, outcome="other", note="changed my mind")
    with session_scope() as session:
        other = Handler(display_name="Eve", endpoint="client:eve", state=HandlerState.WRAP_UP)
        session.add(other)
        session.flush()
        other_id = other.id
    stranger = client.post(
        f"/api/console/{other_id}/outcome",
        json={"handoff_id": wrap.handoff_id, "outcome": "declined"},
    )

    assert again.status_code == 409
    assert stranger.status_code == 409  # Eve's own console, but not Eve's handoff
    with session_scope() as session:
        outcomes = select(func.count()).where(AuditEvent.action == "handoff.outcome")
        assert session.scalar(outcomes) == 1


def test_the_outcome_form_without_javascript_redirects_or_shows_the_errors(
    database: Engine, client: FlaskClient
) -> None:
    wrap = make_wrap_up()
    url = f"/api/console/{wrap.handler_id}/outcome"
    form = {"handoff_id": str(wrap.handoff_id), "outcome": "other", "note": ""}

    page = client.get(f"/console/{wrap.handler_id}").get_data(as_text=True)
    refused = client.post(url, data=form)
    accepted = client.post(url, data={**form, "note": "Spoke to carer"})

    assert f'name="handoff_id" value="{wrap.handoff_id}"' in page
    assert 'http-equiv="refresh"' not in page  # a reload would lose a half-typed outcome
    assert refused.status_code == 422
    html = refused.get_data(as_text=True)
    assert "There is a problem" in html
    assert 'href="#wrap-note"' in html and 'aria-invalid="true"' in html
    assert 'value="other" checked' in html  # what was chosen is kept
    assert accepted.status_code == 303
    assert read_after(wrap).handoff.note == "Spoke to carer"


def test_a_claimed_callback_is_completed_with_the_same_rules(
    database: Engine, client: FlaskClient
) -> None:
    wrap = make_wrap_up()
    old = wrap.old_callback_id
    url = f"/api/console/{wrap.handler_id}/work/{old}"

    unclaimed = client.post(f"{url}/complete", json={"outcome": "declined"})
    client.post(f"{url}/claim")
    no_answer = client.post(f"{url}/complete", json={"outcome": "no_answer"})
    after_no_answer = read_after(wrap).old_callback
    client.post(f"{url}/claim")
    booked = client.post(
        f"{url}/complete", json={"outcome": "booked", "booked_for": "2026-06-30", "clinic": "OPD 4"}
    )

    assert unclaimed.status_code == 409
    assert no_answer.status_code == 200
    assert after_no_answer.completed_at is None
    assert after_no_answer.claimed_by_handler_id is None
    assert after_no_answer.due_at == NOW + timedelta(hours=2)
    assert booked.status_code == 200
    after = read_after(wrap)
    assert (after.old_callback.completed_at, after.old_callback.outcome) == (NOW, "booked")
    assert after.referral.status is ReferralStatus.BOOKED
    assert after.handler_state is HandlerState.WRAP_UP  # a callback worked off-console


def test_a_handler_cannot_skip_the_outcome_by_becoming_available(
    database: Engine, client: FlaskClient
) -> None:
    wrap = make_wrap_up()

    skipped = client.post(f"/api/console/{wrap.handler_id}/state", json={"state": "available"})
    allowed = client.get(f"/api/console/{wrap.handler_id}").get_json()["allowed_states"]

    assert skipped.status_code == 409
    assert "record the outcome" in skipped.get_json()["error"]
    assert allowed == ["offline"]
    assert read_after(wrap).handler_state is HandlerState.WRAP_UP
