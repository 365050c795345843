"""The synthetic world the browser tests look at: staff of every role, referrals in every status,
a handler on a call, today's activity for the live view and a known week for the statistics.

Two names carry script payloads (a patient's and a handler's): every page that shows names must
render them as text. All identifiers are synthetic (999 NHS numbers, Ofcom drama-range phones).
"""

from __future__ import annotations

import dataclasses
import uuid
from datetime import timedelta

from sqlalchemy.orm import Session

from rmc_outreach.accounts import create_user, give_handler_record
from rmc_outreach.clock import now
from rmc_outreach.models import (
    AttemptOutcome,
    AttemptState,
    Handler,
    HandlerState,
    Handoff,
    Priority,
    ReferralStatus,
    Role,
)
from tests.factories import create_attempt, create_patient, create_referral
from tests.metrics.history import build_week

PASSWORD = "browser tests walk the pages"
ACTOR = "browser-test-seed"
IMAGE_PAYLOAD = "<img src=x onerror=alert(1)>"
SCRIPT_PAYLOAD = '<script>alert("xss")</script>'
# Used as a patient's and a handler's name; each part alone would show the bug.
PATIENT_GIVEN_PAYLOAD = IMAGE_PAYLOAD
PATIENT_FAMILY_PAYLOAD = "Xss" + SCRIPT_PAYLOAD
HANDLER_NAME_PAYLOAD = "Handler " + IMAGE_PAYLOAD + SCRIPT_PAYLOAD


@dataclasses.dataclass
class Seeded:
    """Usernames by role and the ids the tests open."""

    usernames: dict[Role, str]
    handler_id: int
    payload_handler_username: str
    payload_handler_id: int
    searchable_referral_id: int
    searchable_ubrn: str
    searchable_family_name: str
    searchable_nhs_number: str
    payload_referral_id: int


def _staff(session: Session, role: Role, username: str, display_name: str) -> int:
    user = create_user(
        session,
        username=username,
        display_name=display_name,
        role=role,
        password=PASSWORD,
        actor_label=ACTOR,
    )
    return user.id


def _handler(session: Session, username: str, display_name: str, endpoint: str) -> Handler:
    user = create_user(
        session,
        username=username,
        display_name=display_name,
        role=Role.HANDLER,
        password=PASSWORD,
        actor_label=ACTOR,
    )
    return give_handler_record(session, user, endpoint, allow_fictional=True, actor_label=ACTOR)


def seed_database(session: Session) -> Seeded:
    """Write the browser tests' world (the caller commits)."""
    usernames = {
        Role.SUPERVISOR: "browser-supervisor",
        Role.MANAGER: "browser-manager",
        Role.ADMIN: "browser-admin",
        Role.HANDLER: "browser-handler",
    }
    _staff(session, Role.SUPERVISOR, usernames[Role.SUPERVISOR], "Sam Supervisor")
    _staff(session, Role.MANAGER, usernames[Role.MANAGER], "Morgan Manager")
    _staff(session, Role.ADMIN, usernames[Role.ADMIN], "Ash Admin")
    handler = _handler(session, usernames[Role.HANDLER], "Hana Handler", "+447700900901")
    payload_handler = _handler(session, "browser-payload", HANDLER_NAME_PAYLOAD, "+447700900902")

    moment = now()
    statuses = list(ReferralStatus)
    priorities = list(Priority)
    specialties = ("Cardiology", "Dermatology", "Ophthalmology", "Orthopaedics")
    for number in range(24):
        create_referral(
            session,
            status=statuses[number % len(statuses)],
            priority=priorities[number % len(priorities)],
            specialty=specialties[number % len(specialties)],
        )
    searchable = create_referral(
        session,
        patient=create_patient(session, given_name="Imogen", family_name="Thistlewood"),
        specialty="Cardiology",
        priority=Priority.URGENT,
        status=ReferralStatus.IN_OUTREACH,
    )
    payload_patient = create_patient(
        session, given_name=PATIENT_GIVEN_PAYLOAD, family_name=PATIENT_FAMILY_PAYLOAD
    )
    payload_referral = create_referral(
        session, patient=payload_patient, status=ReferralStatus.IN_OUTREACH
    )

    # Today: a few finished calls, a patient waiting for a handler and one on a call with the
    # handler whose name is a payload (so the live view and consoles have numbers and names).
    outcomes = (AttemptOutcome.NO_ANSWER, AttemptOutcome.VOICEMAIL_LEFT, AttemptOutcome.BUSY)
    for step, outcome in enumerate(outcomes, start=1):
        create_attempt(
            session,
            searchable,
            step=step,
            state=AttemptState.FINAL,
            outcome=outcome,
            created_at=moment - timedelta(minutes=30),
        )
    on_call = create_attempt(
        session,
        payload_referral,
        state=AttemptState.SENT,
        answered_by="human",
        created_at=moment - timedelta(minutes=4),
    )
    session.add(
        Handoff(
            attempt_id=on_call.id,
            referral_id=payload_referral.id,
            handler_id=payload_handler.id,
            call_sid="CA" + uuid.uuid4().hex,
            queued_at=moment - timedelta(minutes=3),
            connected_at=moment - timedelta(minutes=2),
        )
    )
    payload_handler.state = HandlerState.ON_CALL
    payload_handler.state_changed_at = moment - timedelta(minutes=2)
    handler.state = HandlerState.AVAILABLE
    handler.state_changed_at = moment - timedelta(minutes=1)
    # A call of the week the statistics tests know by heart, within the default 28 days when
    # these tests run in late 2026; the statistics test asks for that week explicitly.
    build_week(session)
    session.flush()
    return Seeded(
        usernames=usernames,
        handler_id=handler.id,
        payload_handler_username="browser-payload",
        payload_handler_id=payload_handler.id,
        searchable_referral_id=searchable.id,
        searchable_ubrn=searchable.ubrn,
        searchable_family_name="Thistlewood",
        searchable_nhs_number=searchable.patient.nhs_number,
        payload_referral_id=payload_referral.id,
    )
