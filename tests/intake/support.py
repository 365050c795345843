"""Helpers for intake tests: run an import, count rows, look up problems."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from sqlalchemy import func, select

from rmc_outreach.config import Settings
from rmc_outreach.db import session_scope
from rmc_outreach.intake import ImportReport, import_worklist
from rmc_outreach.models import AuditEvent, Patient, Referral, ReferralImport
from tests.intake.factories import HEADER, worklist_csv


def import_bytes(data: bytes, settings: Settings, filename: str = "worklist.csv") -> ImportReport:
    """Import raw bytes as the CLI would."""
    return import_worklist(data, filename=filename, settings=settings, actor_label="test:intake")


def import_rows(
    rows: Iterable[Mapping[str, str]],
    settings: Settings,
    *,
    header: Iterable[str] = HEADER,
    encoding: str = "utf-8",
    bom: bool = False,
) -> ImportReport:
    """Import rows written as a CSV worklist."""
    data = worklist_csv(rows, header=header, encoding=encoding, bom=bom)
    return import_bytes(data, settings)


def problems_at(report: ImportReport) -> dict[tuple[int, str | None], str]:
    """Rejections keyed by (row, column)."""
    found: dict[tuple[int, str | None], str] = {}
    for problem in report.rejected:
        key = (problem.row, problem.column)
        assert key not in found, f"two problems for {key}"
        found[key] = problem.reason
    return found


def table_counts() -> dict[str, int]:
    """How many patients, referrals, import runs and audit events are stored."""
    with session_scope() as session:
        return {
            name: session.scalar(select(func.count()).select_from(model)) or 0
            for name, model in (
                ("patient", Patient),
                ("referral", Referral),
                ("referral_import", ReferralImport),
                ("audit_event", AuditEvent),
            )
        }


def stored_patient(nhs_number: str) -> Patient:
    """The stored patient with this NHS number."""
    with session_scope() as session:
        patient = session.scalars(select(Patient).where(Patient.nhs_number == nhs_number)).one()
        session.expunge(patient)
        return patient


def stored_referral(ubrn: str) -> Referral:
    """The stored referral with this UBRN."""
    with session_scope() as session:
        referral = session.scalars(select(Referral).where(Referral.ubrn == ubrn)).one()
        session.expunge(referral)
        return referral
