"""Actions on a referral: each needs a reason, takes effect, is audited, and writes nothing
when refused; no clear phone or NHS number reaches the audit trail. SQLite and PostgreSQL."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import Engine, select

from rmc_outreach.clock import now
from rmc_outreach.db import session_scope
from rmc_outreach.identifiers import format_nhs_number
from rmc_outreach.models import (
    AttemptOutcome,
    AttemptState,
    AuditEvent,
    CallbackRequest,
    ContactAttempt,
    Patient,
    Referral,
    ReferralStatus,
)
from rmc_outreach.phones import format_national
from tests.admin_ui.conftest import StaffClient
from tests.factories import create_attempt, create_patient, create_referral


def open_referral(**overrides: Any) -> int:
    """A referral in outreach with a pending call attempt and an open callback request."""
    with session_scope() as session:
        referral = create_referral(
            session, status=ReferralStatus.IN_OUTREACH, journey_step=1, **overrides
        )
        create_attempt(session, referral)
        session.add(CallbackRequest(referral_id=referral.id, reason="sms_reply", due_at=now()))
        return referral.id


def referral(referral_id: int) -> Referral:
    with session_scope(read_only=True) as session:
        found = session.get_one(Referral, referral_id)
        session.expunge(found)
        return found


def patient_of(referral_id: int) -> Patient:
    with session_scope(read_only=True) as session:
        found = session.get_one(Referral, referral_id).patient
        session.expunge(found)
        return found


def audit_actions() -> list[tuple[str, dict[str, Any]]]:
    with session_scope(read_only=True) as session:
        events = session.scalars(
            select(AuditEvent)
            .where(AuditEvent.action.not_in(("referral.view", "user.sign_in")))
            .order_by(AuditEvent.id)
        ).all()
        return [(event.action, event.detail) for event in events]


def attempt_states(referral_id: int) -> list[tuple[AttemptState, AttemptOutcome | None]]:
    with session_scope(read_only=True) as session:
        rows = session.execute(
            select(ContactAttempt.state, ContactAttempt.outcome).where(
                ContactAttempt.referral_id == referral_id
            )
        ).all()
        return [(row[0], row[1]) for row in rows]


def test_pause_and_resume_set_and_clear_the_pause_with_their_reasons_audited(
    database: Engine, client: StaffClient
) -> None:
    referral_id = open_referral()

    paused = client.post(f"/referrals/{referral_id}/pause", data={"reason": "In hospital"})

    assert paused.status_code == 303
    assert referral(referral_id).outreach_paused_at is not None
    assert referral(referral_id).outreach_pause_reason == "In hospital"
    page = client.get(f"/referrals/{referral_id}").get_data(as_text=True)
    assert "Outreach is paused for this referral" in page
    resumed = client.post(f"/referrals/{referral_id}/resume", data={"reason": "Home again"})
    assert resumed.status_code == 303
    assert referral(referral_id).outreach_paused_at is None
    assert audit_actions() == [
        ("referral.pause", {"reason": "In hospital"}),
        ("referral.resume", {"reason": "Home again"}),
    ]


def test_an_action_without_a_reason_is_refused_and_writes_nothing(
    database: Engine, client: StaffClient
) -> None:
    referral_id = open_referral()

    for action in ("pause", "booked", "declined", "do-not-contact"):
        response = client.post(f"/referrals/{referral_id}/{action}", data={"reason": "  "})
        assert response.status_code == 422
        assert "give a reason" in response.get_data(as_text=True)

    assert referral(referral_id).status is ReferralStatus.IN_OUTREACH
    assert referral(referral_id).outreach_paused_at is None
    assert patient_of(referral_id).contact_opted_out_at is None
    assert audit_actions() == []


def test_an_action_without_the_csrf_token_is_refused(database: Engine, client: StaffClient) -> None:
    referral_id = open_referral()

    response = client.post(f"/referrals/{referral_id}/booked", data={"reason": "x" * 5}, csrf=False)

    assert response.status_code == 400
    assert referral(referral_id).status is ReferralStatus.IN_OUTREACH


def test_pausing_a_closed_referral_is_a_conflict_that_changes_nothing(
    database: Engine, client: StaffClient
) -> None:
    with session_scope() as session:
        referral_id = create_referral(session, status=ReferralStatus.BOOKED).id

    response = client.post(f"/referrals/{referral_id}/pause", data={"reason": "just in case"})

    assert response.status_code == 409
    assert "only a waiting referral or one in outreach can be paused" in response.get_data(
        as_text=True
    )
    assert referral(referral_id).outreach_paused_at is None
    assert audit_actions() == []


def test_marking_booked_stops_every_channel_and_closes_call_backs(
    database: Engine, client: StaffClient
) -> None:
    referral_id = open_referral()

    response = client.post(
        f"/referrals/{referral_id}/booked", data={"reason": "Booked by phone, clinic 3"}
    )

    assert response.status_code == 303
    assert referral(referral_id).status is ReferralStatus.BOOKED
    assert attempt_states(referral_id) == [(AttemptState.FINAL, AttemptOutcome.CANCELED)]
    with session_scope(read_only=True) as session:
        callback = session.scalars(select(CallbackRequest)).one()
        assert callback.completed_at is not None
    assert audit_actions() == [
        (
            "referral.booked",
            {
                "reason": "Booked by phone, clinic 3",
                "changed": {"status": ["in_outreach", "booked"]},
            },
        )
    ]
    again = client.post(f"/referrals/{referral_id}/declined", data={"reason": "changed mind"})
    assert again.status_code == 409
    assert referral(referral_id).status is ReferralStatus.BOOKED


def test_marking_declined_ends_the_journey(database: Engine, client: StaffClient) -> None:
    referral_id = open_referral()

    client.post(f"/referrals/{referral_id}/declined", data={"reason": "Seen privately"})

    assert referral(referral_id).status is ReferralStatus.DECLINED
    assert attempt_states(referral_id) == [(AttemptState.FINAL, AttemptOutcome.CANCELED)]


def test_do_not_contact_hands_every_open_referral_of_the_patient_back_to_people(
    database: Engine, client: StaffClient
) -> None:
    with session_scope() as session:
        patient = create_patient(session)
        first = create_referral(session, patient=patient, status=ReferralStatus.IN_OUTREACH)
        create_attempt(session, first)
        second = create_referral(session, patient=patient, status=ReferralStatus.WAITING)
        booked = create_referral(session, patient=patient, status=ReferralStatus.BOOKED)
        ids = (first.id, second.id, booked.id)

    response = client.post(
        f"/referrals/{ids[0]}/do-not-contact", data={"reason": "Asked by letter"}
    )

    assert response.status_code == 303
    assert patient_of(ids[0]).contact_opted_out_at is not None
    assert [referral(i).status for i in ids] == [
        ReferralStatus.EXHAUSTED,
        ReferralStatus.EXHAUSTED,
        ReferralStatus.BOOKED,
    ]
    assert referral(ids[0]).journey_end_reason == "contact_opted_out"
    assert attempt_states(ids[0]) == [(AttemptState.FINAL, AttemptOutcome.CANCELED)]
    ((action, detail),) = audit_actions()
    assert action == "patient.do_not_contact"
    assert sorted(detail["referrals_handed_back"]) == sorted(ids[:2])


def test_preferences_change_flags_and_opt_outs_and_list_each_change(
    database: Engine, client: StaffClient
) -> None:
    referral_id = open_referral()

    response = client.post(
        f"/referrals/{referral_id}/preferences",
        data={
            "form": "preferences",
            "no_voicemail": "on",
            "large_print": "on",
            "sms_opted_out": "on",
            "language": "Polish",
            "reason": "Daughter rang on her behalf",
        },
    )

    assert response.status_code == 303
    patient = patient_of(referral_id)
    assert (patient.no_voicemail, patient.large_print, patient.no_sms) == (True, True, False)
    assert patient.language == "Polish"
    assert patient.sms_opted_out_at is not None and patient.sms_opt_out_source == "staff"
    ((action, detail),) = audit_actions()
    assert action == "patient.preferences"
    assert detail["changed"] == {
        "no_voicemail": [False, True],
        "large_print": [False, True],
        "language": [None, "Polish"],
        "sms_opted_out": [False, True],
    }
    unchanged = client.post(
        f"/referrals/{referral_id}/preferences",
        data={
            "no_voicemail": "on",
            "large_print": "on",
            "sms_opted_out": "on",
            "language": "Polish",
            "reason": "again",
        },
    )
    assert unchanged.status_code == 422
    assert "nothing was changed" in unchanged.get_data(as_text=True)


def test_landline_only_is_set_and_cleared_with_a_reason_and_each_change_audited(
    database: Engine, client: StaffClient
) -> None:
    referral_id = open_referral()
    with session_scope() as session:
        patient = session.get_one(Referral, referral_id).patient
        patient.landline_phone = "+441632960131"
        patient.no_voicemail = True

    set_response = client.post(
        f"/referrals/{referral_id}/preferences",
        data={"no_voicemail": "on", "landline_only": "on", "reason": "Patient asked by phone"},
    )
    assert set_response.status_code == 303
    assert patient_of(referral_id).landline_only is True
    page = client.get(f"/referrals/{referral_id}").get_data(as_text=True)
    assert "<dt>Landline only</dt><dd>Yes</dd>" in page
    assert 'id="pref-landline_only" name="landline_only" value="on" checked' in page

    cleared = client.post(
        f"/referrals/{referral_id}/preferences",
        data={"no_voicemail": "on", "reason": "Mobile is fine again"},
    )
    assert cleared.status_code == 303
    assert patient_of(referral_id).landline_only is False
    assert patient_of(referral_id).no_voicemail is True
    assert audit_actions() == [
        (
            "patient.preferences",
            {
                "reason": "Patient asked by phone",
                "referral_id": referral_id,
                "changed": {"landline_only": [False, True]},
            },
        ),
        (
            "patient.preferences",
            {
                "reason": "Mobile is fine again",
                "referral_id": referral_id,
                "changed": {"landline_only": [True, False]},
            },
        ),
    ]


def test_the_page_says_when_a_landline_only_patient_has_no_landline(
    database: Engine, client: StaffClient
) -> None:
    with session_scope() as session:
        patient = create_patient(session, landline_phone=None, landline_only=True)
        referral_id = create_referral(session, patient=patient).id

    page = client.get(f"/referrals/{referral_id}").get_data(as_text=True)

    assert "Yes: no landline on record, so no calls or texts" in page


def test_landline_only_needs_a_reason_and_without_one_nothing_changes(
    database: Engine, client: StaffClient
) -> None:
    referral_id = open_referral()

    response = client.post(
        f"/referrals/{referral_id}/preferences", data={"landline_only": "on", "reason": ""}
    )

    assert response.status_code == 422
    assert patient_of(referral_id).landline_only is False
    assert audit_actions() == []


def test_a_language_with_digits_is_refused(database: Engine, client: StaffClient) -> None:
    referral_id = open_referral()

    response = client.post(
        f"/referrals/{referral_id}/preferences", data={"language": "07700 900123", "reason": "ok?"}
    )

    assert response.status_code == 422
    assert patient_of(referral_id).language is None


def test_no_clear_phone_or_nhs_number_reaches_the_audit_trail(
    database: Engine, client: StaffClient
) -> None:
    referral_id = open_referral()
    patient = patient_of(referral_id)
    assert patient.mobile_phone is not None
    mobile, nhs_number = patient.mobile_phone, patient.nhs_number
    pasted = f"call {format_national(mobile)} or {mobile}, NHS {format_nhs_number(nhs_number)}"

    client.get(f"/referrals/{referral_id}")
    client.post(f"/referrals/{referral_id}/reveal", data={"field": "nhs_number"})
    client.post(f"/referrals/{referral_id}/reveal", data={"field": "mobile_phone"})
    client.post(f"/referrals/{referral_id}/pause", data={"reason": pasted[:200]})
    client.post(f"/referrals/{referral_id}/resume", data={"reason": nhs_number})
    client.post(
        f"/referrals/{referral_id}/preferences",
        data={"no_sms": "on", "reason": f"asked from {mobile}"},
    )
    client.post(f"/referrals/{referral_id}/do-not-contact", data={"reason": pasted[:200]})
    client.post(f"/referrals/{referral_id}/booked", data={"reason": pasted[:200]})

    with session_scope(read_only=True) as session:
        events = session.scalars(select(AuditEvent)).all()
    assert {event.action for event in events} >= {
        "referral.view",
        "referral.reveal",
        "referral.pause",
        "referral.resume",
        "patient.preferences",
        "patient.do_not_contact",
        "referral.booked",
    }
    digits_only = [nhs_number, mobile[1:], "0" + mobile[3:]]
    for event in events:
        stored = json.dumps(event.detail) + event.actor_label + (event.object_id or "")
        squeezed = stored.replace(" ", "").replace("-", "")
        for number in digits_only:
            assert number not in squeezed, (event.action, stored)
    reasons = [event.detail.get("reason") for event in events if "reason" in event.detail]
    assert any("[number removed]" in str(reason) for reason in reasons)
