"""Which number a handler rings a patient back on, and the words the console shows for every
way a call-back request can end."""

from __future__ import annotations

from sqlalchemy import Engine

from rmc_outreach.acd.connect import callback_number
from rmc_outreach.acd.handoff_state import REACHED_HANDLER_OUTCOME, callback_phone
from rmc_outreach.console_view.screen_pop import HANDOFF_OUTCOME_WORDS
from rmc_outreach.db import session_scope
from rmc_outreach.handoff_outcomes import Outcome
from rmc_outreach.models import CallbackRequest, Handoff, HandoffEndReason
from tests.factories import create_patient, create_referral

MOBILE, LANDLINE = "+447700900123", "+441632960123"


def test_without_a_number_of_its_own_a_landline_only_patient_is_rung_back_on_the_landline(
    database: Engine,
) -> None:
    with session_scope() as session:
        numbers = {}
        for landline_only in (False, True):
            patient = create_patient(
                session, mobile_phone=MOBILE, landline_phone=LANDLINE, landline_only=landline_only
            )
            referral = create_referral(session, patient=patient)
            callback = CallbackRequest(referral_id=referral.id, reason="test", phone=None)
            handoff = Handoff(referral_id=referral.id)
            session.add_all([callback, handoff])
            session.flush()
            numbers[landline_only] = (
                callback_number(session, callback),
                callback_phone(session, handoff),
            )

    assert numbers == {False: (MOBILE, MOBILE), True: (LANDLINE, LANDLINE)}


def test_the_console_has_words_for_every_way_a_call_back_request_ends() -> None:
    outcomes = {outcome.value for outcome in Outcome}
    outcomes |= {HandoffEndReason.CALLBACK_REQUESTED.value, REACHED_HANDLER_OUTCOME}

    assert outcomes <= set(HANDOFF_OUTCOME_WORDS)
