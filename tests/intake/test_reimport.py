"""Re-importing is idempotent by UBRN: details are updated, outreach history is kept."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select

from rmc_outreach import clock
from rmc_outreach.config import Settings
from rmc_outreach.db import session_scope
from rmc_outreach.intake import EXIT_ACCEPTED
from rmc_outreach.models import (
    AttemptOutcome,
    AttemptState,
    Channel,
    ContactAttempt,
    Patient,
    Priority,
    Referral,
    ReferralStatus,
)
from tests.intake.factories import HEADER, worklist_row
from tests.intake.support import import_rows, stored_patient, stored_referral


def test_importing_the_same_file_twice_changes_nothing(settings: Settings) -> None:
    rows = [worklist_row(index) for index in range(4)]
    first = import_rows(rows, settings)
    before = stored_referral(rows[0]["ubrn"])
    patient_before = stored_patient(rows[0]["nhs_number"])

    second = import_rows(rows, settings)

    assert (second.imported, second.updated, second.unchanged) == (0, 0, 4)
    assert second.exit_code == EXIT_ACCEPTED
    after = stored_referral(rows[0]["ubrn"])
    assert after.last_import_id == first.import_id
    assert after.updated_at == before.updated_at
    assert stored_patient(rows[0]["nhs_number"]).updated_at == patient_before.updated_at


def test_a_reimport_counts_new_updated_and_unchanged_referrals(settings: Settings) -> None:
    rows = [worklist_row(index) for index in range(3)]
    import_rows(rows, settings)
    rows[0]["mobile_phone"] = "07700 900555"  # patient detail changed
    rows[1]["priority"] = "2ww"  # referral detail changed
    rows.append(worklist_row(3))  # new

    report = import_rows(rows, settings)

    assert (report.imported, report.updated, report.unchanged) == (1, 2, 1)
    assert stored_patient(rows[0]["nhs_number"]).mobile_phone == "+447700900555"
    assert stored_referral(rows[1]["ubrn"]).priority is Priority.TWO_WEEK_WAIT
    for index in (0, 1, 3):
        assert stored_referral(rows[index]["ubrn"]).last_import_id == report.import_id
    assert stored_referral(rows[2]["ubrn"]).last_import_id != report.import_id


def test_a_reimport_keeps_status_attempts_and_opt_outs(settings: Settings) -> None:
    row = worklist_row(0)
    import_rows([row], settings)
    opted_out_at = clock.now() - timedelta(days=1)
    with session_scope() as session:
        referral = session.scalars(select(Referral)).one()
        referral.status = ReferralStatus.IN_OUTREACH
        referral.journey_step = 2
        referral.next_action_at = clock.now() + timedelta(days=2)
        session.add(
            ContactAttempt(
                referral_id=referral.id,
                channel=Channel.CALL,
                step=1,
                state=AttemptState.FINAL,
                outcome=AttemptOutcome.NO_ANSWER,
            )
        )
        patient = session.scalars(select(Patient)).one()
        patient.sms_opted_out_at = opted_out_at
        patient.sms_opt_out_source = "sms:STOP"

    changed = {
        **row,
        "mobile_phone": "07700 900321",
        "specialty": "Dermatology",
        "priority": "urgent",
        "no_voicemail": "yes",
        "address_line_1": "3 New Road",
    }
    report = import_rows([changed], settings)

    assert (report.imported, report.updated, report.unchanged) == (0, 1, 0)
    referral = stored_referral(row["ubrn"])
    assert referral.status is ReferralStatus.IN_OUTREACH
    assert referral.journey_step == 2
    assert referral.next_action_at == clock.now() + timedelta(days=2)
    assert (referral.specialty, referral.priority) == ("Dermatology", Priority.URGENT)
    patient = stored_patient(row["nhs_number"])
    assert patient.mobile_phone == "+447700900321"
    assert patient.no_voicemail is True
    assert patient.address_line_1 == "3 New Road"
    assert patient.sms_opted_out_at == opted_out_at
    assert patient.sms_opt_out_source == "sms:STOP"
    with session_scope() as session:
        attempts = session.scalar(select(func.count()).select_from(ContactAttempt))
        assert attempts == 1


def test_optional_columns_missing_from_a_file_keep_their_stored_values(
    settings: Settings,
) -> None:
    row = worklist_row(0, no_sms="yes", large_print="yes", landline_only="yes", language="Welsh")
    import_rows([row], settings)
    left_out = ("no_sms", "large_print", "landline_only", "language")
    header = [column for column in HEADER if column not in left_out]

    report = import_rows([row], settings, header=header)

    assert (report.updated, report.unchanged) == (0, 1)
    patient = stored_patient(row["nhs_number"])
    assert (patient.no_sms, patient.large_print, patient.language) == (True, True, "Welsh")
    assert patient.landline_only is True


def test_a_blank_optional_value_in_a_reimport_clears_the_stored_value(
    settings: Settings,
) -> None:
    row = worklist_row(0, no_sms="yes", landline_only="yes", language="Welsh")
    import_rows([row], settings)

    report = import_rows([{**row, "no_sms": "", "landline_only": "", "language": ""}], settings)

    assert report.updated == 1
    patient = stored_patient(row["nhs_number"])
    assert (patient.no_sms, patient.landline_only, patient.language) == (False, False, None)


def test_a_reimport_with_the_names_in_another_case_updates_the_spelling(
    settings: Settings,
) -> None:
    row = worklist_row(0, given_name="AMARA", family_name="OKAFOR")
    import_rows([row], settings)
    report = import_rows([{**row, "given_name": "Amara", "family_name": "Okafor"}], settings)
    assert report.updated == 1
    patient = stored_patient(row["nhs_number"])
    assert (patient.given_name, patient.family_name) == ("Amara", "Okafor")
