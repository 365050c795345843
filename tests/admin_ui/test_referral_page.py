"""A referral's page: masked by default, every look audited, the full timeline, reveals by POST
only (audited), names rendered inert; on SQLite and PostgreSQL."""

from __future__ import annotations

import re
from datetime import timedelta

from sqlalchemy import Engine, select

from rmc_outreach.clock import now
from rmc_outreach.db import session_scope
from rmc_outreach.identifiers import format_nhs_number, mask_nhs_number
from rmc_outreach.models import (
    AttemptOutcome,
    AttemptState,
    AuditEvent,
    CallbackRequest,
    Channel,
    Handler,
    Handoff,
    ProviderEvent,
    ReferralStatus,
)
from rmc_outreach.phones import format_national, mask_phone
from tests.admin_ui.conftest import StaffClient
from tests.admin_ui.pages import read_queue_page
from tests.factories import create_attempt, create_patient, create_referral, drama_landline

SMS_BODY = "Please ring me about my knee"


def referral_with_history() -> tuple[int, str, str, str]:
    """A referral with an answered call, provider events, a handoff and a callback request;
    returns (referral id, NHS number, mobile, landline)."""
    moment = now()
    with session_scope() as session:
        patient = create_patient(session, landline_phone=drama_landline(321))
        referral = create_referral(
            session,
            patient=patient,
            status=ReferralStatus.REACHED,
            reached_by=Channel.CALL,
            created_at=moment - timedelta(days=1),
        )
        attempt = create_attempt(
            session,
            referral,
            state=AttemptState.FINAL,
            outcome=AttemptOutcome.HUMAN_HANDOFF,
            answered_by="human",
            keypad_choice="1",
            started_at=moment - timedelta(minutes=30),
        )
        session.add(
            ProviderEvent(
                event_key=f"test:{attempt.id}",
                kind="call-status",
                attempt_id=attempt.id,
                payload={"CallStatus": "completed", "To": patient.mobile_phone, "Body": SMS_BODY},
                received_at=moment - timedelta(minutes=25),
            )
        )
        handler = Handler(display_name="Hannah Handler", endpoint="client:hannah")
        session.add(handler)
        session.flush()
        session.add(
            Handoff(
                attempt_id=attempt.id,
                referral_id=referral.id,
                handler_id=handler.id,
                queued_at=moment - timedelta(minutes=29),
                connected_at=moment - timedelta(minutes=29) + timedelta(seconds=14),
                ended_at=moment - timedelta(minutes=20),
                outcome="callback",
                note="Prefers afternoons",
            )
        )
        session.add(
            CallbackRequest(
                referral_id=referral.id,
                reason="patient_asked",
                phone=patient.mobile_phone,
                created_at=moment - timedelta(minutes=19),
                due_at=moment + timedelta(days=1),
            )
        )
        assert patient.mobile_phone is not None and patient.landline_phone is not None
        return referral.id, patient.nhs_number, patient.mobile_phone, patient.landline_phone


def clear_forms_of(number: str) -> list[str]:
    """Every way a page could spell the number in clear."""
    if number.startswith("+"):
        return [number, format_national(number), format_national(number).replace(" ", "")]
    return [number, format_nhs_number(number)]


def test_the_page_masks_identifiers_and_records_the_look(
    database: Engine, client: StaffClient
) -> None:
    referral_id, nhs_number, mobile, landline = referral_with_history()

    response = client.get(f"/referrals/{referral_id}")

    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    html = response.get_data(as_text=True)
    assert mask_nhs_number(nhs_number) in html
    assert mask_phone(mobile) in html and mask_phone(landline) in html
    for number in (nhs_number, mobile, landline):
        for spelled in clear_forms_of(number):
            assert spelled not in html
    with session_scope(read_only=True) as session:
        views = session.scalars(
            select(AuditEvent).where(AuditEvent.action == "referral.view")
        ).all()
    assert [(view.object_type, view.object_id) for view in views] == [
        ("referral", str(referral_id))
    ]
    assert views[0].actor_user_id is not None


def test_the_timeline_merges_attempts_events_handoffs_and_callbacks_without_bodies(
    database: Engine, client: StaffClient
) -> None:
    referral_id, _, _, _ = referral_with_history()

    html = client.get(f"/referrals/{referral_id}").get_data(as_text=True)

    kinds = re.findall(r'<li data-kind="([a-z_]+)">', html)
    assert kinds == ["referral", "attempt", "handoff", "provider_event", "callback"]
    text = " ".join(re.sub(r"<[^>]+>", " ", html).split())
    assert "Call (step 1)" in text
    assert "Answered by human" in text and "Keypad 1" in text
    assert "CallStatus completed" in text
    assert "Hannah Handler" in text and "Waited (s) 14" in text
    assert "Prefers afternoons" in text
    assert "Call back requested" in text
    assert SMS_BODY not in html


def test_a_reveal_is_a_post_that_shows_the_number_once_and_is_audited(
    database: Engine, client: StaffClient
) -> None:
    referral_id, nhs_number, mobile, _ = referral_with_history()

    response = client.post(f"/referrals/{referral_id}/reveal", data={"field": "nhs_number"})

    assert response.status_code == 200
    assert format_nhs_number(nhs_number) in response.get_data(as_text=True)
    again = client.get(f"/referrals/{referral_id}").get_data(as_text=True)
    assert format_nhs_number(nhs_number) not in again
    phone = client.post(f"/referrals/{referral_id}/reveal", data={"field": "mobile_phone"})
    assert format_national(mobile) in phone.get_data(as_text=True)
    with session_scope(read_only=True) as session:
        reveals = session.scalars(
            select(AuditEvent).where(AuditEvent.action == "referral.reveal").order_by(AuditEvent.id)
        ).all()
    assert [(event.object_id, event.detail) for event in reveals] == [
        (str(referral_id), {"field": "nhs_number"}),
        (str(referral_id), {"field": "mobile_phone"}),
    ]


def test_a_reveal_by_get_or_without_the_csrf_token_is_refused_and_not_recorded(
    database: Engine, client: StaffClient
) -> None:
    referral_id, nhs_number, _, _ = referral_with_history()

    by_get = client.get(f"/referrals/{referral_id}/reveal?field=nhs_number")
    no_token = client.post(
        f"/referrals/{referral_id}/reveal", data={"field": "nhs_number"}, csrf=False
    )

    assert by_get.status_code == 405
    assert no_token.status_code == 400
    for response in (by_get, no_token):
        assert format_nhs_number(nhs_number) not in response.get_data(as_text=True)
    with session_scope(read_only=True) as session:
        assert not session.scalars(
            select(AuditEvent).where(AuditEvent.action == "referral.reveal")
        ).all()


def test_revealing_an_unknown_field_is_refused(database: Engine, client: StaffClient) -> None:
    referral_id, _, _, _ = referral_with_history()

    response = client.post(f"/referrals/{referral_id}/reveal", data={"field": "date_of_birth"})

    assert response.status_code == 422
    assert "choose the NHS number or one of the phone numbers" in response.get_data(as_text=True)


def test_a_name_with_a_script_tag_is_rendered_as_text_on_search_and_page(
    database: Engine, client: StaffClient
) -> None:
    payload = '<script>alert("x")</script><img src=x onerror=alert(1)>'
    with session_scope() as session:
        patient = create_patient(session, given_name=payload, family_name="Inert" + payload)
        referral_id = create_referral(session, patient=patient, specialty=payload).id

    pages = [
        client.get("/referrals", query_string={"q": "inert"}).get_data(as_text=True),
        client.get(f"/referrals/{referral_id}").get_data(as_text=True),
    ]

    for html in pages:
        assert "&lt;script&gt;" in html
        assert "<script>alert" not in html
        assert "<img src=x" not in html
        reader = read_queue_page(html)
        assert all(script.get("src") for script in reader.scripts)
        assert reader.style_attributes == 0 and reader.style_elements == 0


def test_an_unknown_referral_is_404(database: Engine, client: StaffClient) -> None:
    assert client.get("/referrals/424242").status_code == 404
