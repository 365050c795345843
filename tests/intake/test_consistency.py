"""Rows that contradict each other or the stored records are all rejected, with reasons."""

from __future__ import annotations

from sqlalchemy import select

from rmc_outreach.config import Settings
from rmc_outreach.db import session_scope
from rmc_outreach.intake import EXIT_ROWS_REJECTED
from rmc_outreach.models import Patient, Referral
from tests.intake.factories import synthetic_ubrn, worklist_row
from tests.intake.support import (
    import_rows,
    problems_at,
    stored_patient,
    table_counts,
)


def test_the_same_ubrn_twice_in_a_file_rejects_both_rows(settings: Settings) -> None:
    rows = [worklist_row(0), worklist_row(1), worklist_row(2, ubrn=synthetic_ubrn(0))]
    report = import_rows(rows, settings)

    problems = problems_at(report)
    assert sorted(problems) == [(2, "ubrn"), (4, "ubrn")]
    assert "also on row 4" in problems[(2, "ubrn")]
    assert "also on row 2" in problems[(4, "ubrn")]
    assert report.imported == 1
    assert report.exit_code == EXIT_ROWS_REJECTED
    assert table_counts()["referral"] == 1


def test_the_same_ubrn_on_an_otherwise_invalid_row_still_rejects_the_valid_one(
    settings: Settings,
) -> None:
    rows = [worklist_row(0), worklist_row(1, ubrn=synthetic_ubrn(0), postcode="nowhere")]
    report = import_rows(rows, settings)
    assert sorted(problems_at(report)) == [(2, "ubrn"), (3, "postcode"), (3, "ubrn")]
    assert report.imported == 0


def test_one_nhs_number_with_different_names_rejects_every_row_with_it(
    settings: Settings,
) -> None:
    shared = worklist_row(0)["nhs_number"]
    rows = [
        worklist_row(0),
        worklist_row(1, nhs_number=shared),
        worklist_row(2),
        worklist_row(3, nhs_number=shared, family_name="Okonkwo"),
    ]
    report = import_rows(rows, settings)

    problems = problems_at(report)
    assert sorted(problems) == [(2, "nhs_number"), (3, "nhs_number"), (5, "nhs_number")]
    assert "also on rows 3, 5 with a different name or date of birth" in problems[(2, "nhs_number")]
    assert report.imported == 1


def test_one_nhs_number_with_different_birth_dates_rejects_every_row_with_it(
    settings: Settings,
) -> None:
    shared = worklist_row(0)["nhs_number"]
    rows = [worklist_row(0), worklist_row(1, nhs_number=shared, date_of_birth="1961-03-15")]
    report = import_rows(rows, settings)
    assert sorted(problems_at(report)) == [(2, "nhs_number"), (3, "nhs_number")]
    assert report.imported == 0


def test_one_patient_with_two_referrals_is_stored_once(settings: Settings) -> None:
    shared = worklist_row(0)["nhs_number"]
    rows = [
        worklist_row(0),
        worklist_row(1, nhs_number=shared, given_name="AMARA", specialty="Dermatology"),
    ]
    report = import_rows(rows, settings)

    assert report.rejected == []
    assert report.imported == 2
    with session_scope() as session:
        patients = session.scalars(select(Patient)).all()
        referrals = session.scalars(select(Referral)).all()
        assert len(patients) == 1
        assert {referral.patient_id for referral in referrals} == {patients[0].id}


def test_differing_contact_details_for_one_patient_use_the_first_row_and_warn(
    settings: Settings,
) -> None:
    shared = worklist_row(0)["nhs_number"]
    rows = [worklist_row(0), worklist_row(1, nhs_number=shared, mobile_phone="07700 900999")]
    report = import_rows(rows, settings)

    assert report.imported == 2
    assert [(w.row, w.column) for w in report.warnings] == [(3, None)]
    assert "differ from row 2" in report.warnings[0].warning
    assert stored_patient(shared).mobile_phone == "+447700900000"


def test_an_nhs_number_stored_with_another_birth_date_is_rejected(settings: Settings) -> None:
    import_rows([worklist_row(0)], settings)
    changed = worklist_row(1, nhs_number=worklist_row(0)["nhs_number"], date_of_birth="1962-03-14")

    report = import_rows([worklist_row(2), changed], settings)

    problems = problems_at(report)
    assert list(problems) == [(3, "nhs_number")]
    assert "already stored with a different name or date of birth" in problems[(3, "nhs_number")]
    assert report.imported == 1
    assert stored_patient(changed["nhs_number"]).date_of_birth.isoformat() == "1961-03-14"


def test_an_nhs_number_stored_with_another_name_is_rejected(settings: Settings) -> None:
    import_rows([worklist_row(0)], settings)
    renamed = worklist_row(1, nhs_number=worklist_row(0)["nhs_number"], family_name="Obi")
    report = import_rows([renamed], settings)
    assert list(problems_at(report)) == [(2, "nhs_number")]
    assert stored_patient(renamed["nhs_number"]).family_name == "Okafor"


def test_a_ubrn_stored_for_a_different_patient_is_rejected(settings: Settings) -> None:
    import_rows([worklist_row(0)], settings)
    other_patient = worklist_row(5, ubrn=synthetic_ubrn(0))

    report = import_rows([other_patient], settings)

    problems = problems_at(report)
    assert list(problems) == [(2, "ubrn")]
    assert "already stored for a different patient" in problems[(2, "ubrn")]
    assert table_counts()["patient"] == 1
