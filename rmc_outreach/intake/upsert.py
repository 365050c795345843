"""Write validated rows: insert new patients and referrals, update changed ones, by UBRN.

Everything happens in the caller's session (one transaction). Work goes in chunks of
``CHUNK_SIZE`` rows: one query for the chunk's referrals, one for its patients, then bulk
inserts (``INSERT ... RETURNING``) and bulk updates by primary key. No query per row.

``referral.last_import_id`` names the import that created the referral or last changed it (or
its patient); unchanged referrals are not written at all.

Rules checked against stored data: a UBRN already stored for another patient, or an NHS number
stored with a different name or birth date, rejects the row. Outreach history (status, journey,
attempts, opt-outs) is never touched. When one patient has several rows, the first accepted row's
contact details are used and later rows that differ get a warning.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Row, Table, select, text, update
from sqlalchemy.orm import Session

from rmc_outreach.intake.bulk import (
    insert_rows,
    insert_rows_returning_ids,
    is_postgresql,
    matching,
)
from rmc_outreach.intake.records import (
    PATIENT_CONTACT_FIELDS,
    ReferralRow,
    identity_of,
)
from rmc_outreach.intake.report import RowProblem, RowWarning
from rmc_outreach.models import Patient, Referral, ReferralStatus

CHUNK_SIZE = 2000

UBRN_OF_ANOTHER_PATIENT = (
    "this UBRN is already stored for a different patient (another NHS number); "
    "check the UBRN and the NHS number"
)
NHS_NUMBER_IDENTITY_MISMATCH = (
    "this NHS number is already stored with a different name or date of birth; "
    "check the row, or correct the patient's record first"
)

# Column order of the value tuples made by _new_patient and _new_referral.
_PATIENT_COLUMNS = (
    "nhs_number",
    "given_name",
    "family_name",
    "date_of_birth",
    "mobile_phone",
    "landline_phone",
    "carer_phone",
    "address_line_1",
    "address_line_2",
    "address_line_3",
    "address_line_4",
    "address_line_5",
    "postcode",
    "no_voicemail",
    "no_sms",
    "letter_only",
    "landline_only",
    "large_print",
    "language",
    "created_at",
    "updated_at",
)
_REFERRAL_COLUMNS = (
    "ubrn",
    "patient_id",
    "specialty",
    "priority",
    "referral_date",
    "status",
    "next_action_at",
    "journey_step",
    "created_at",
    "updated_at",
    "last_import_id",
)
_WAITING = ReferralStatus.WAITING.value
_patient_table = cast(Table, Patient.__table__)
_referral_table = cast(Table, Referral.__table__)


@dataclass(slots=True)
class UpsertOutcome:
    """Counts per row (a referral is new, updated or unchanged), and rows refused here."""

    imported: int = 0
    updated: int = 0
    unchanged: int = 0
    problems: list[RowProblem] = field(default_factory=list)
    warnings: list[RowWarning] = field(default_factory=list)


@dataclass(slots=True)
class _PatientInThisImport:
    """A patient already written (or queued) by this import, and the row that set its details."""

    patient_id: int | None
    changed: bool
    source: ReferralRow


@dataclass(slots=True)
class _ChunkWrites:
    patient_inserts: list[ReferralRow] = field(default_factory=list)
    patient_updates: list[dict[str, Any]] = field(default_factory=list)
    referral_inserts: list[ReferralRow] = field(default_factory=list)
    referral_updates: list[dict[str, Any]] = field(default_factory=list)
    patient_changed_referral_ids: list[int] = field(default_factory=list)


class _Upserter:
    def __init__(
        self,
        session: Session,
        *,
        import_id: int,
        optional_fields: tuple[str, ...],
        moment: datetime,
    ) -> None:
        self.session = session
        self.postgres = is_postgresql(session)
        self.import_id = import_id
        self.moment = moment
        self.patient_fields = PATIENT_CONTACT_FIELDS + optional_fields
        self.patients: dict[str, _PatientInThisImport] = {}
        self.conflicting_nhs_numbers: set[str] = set()
        self.outcome = UpsertOutcome()

    def run(self, records: Sequence[ReferralRow]) -> UpsertOutcome:
        if self.postgres:
            # JIT compilation costs more than it saves for these short indexed statements, and
            # a server without fresh statistics may pick it for every chunk.
            self.session.execute(text("SET LOCAL jit = off"))
        for start in range(0, len(records), CHUNK_SIZE):
            self._chunk(records[start : start + CHUNK_SIZE])
        return self.outcome

    def _existing_referrals(self, chunk: Sequence[ReferralRow]) -> dict[str, Any]:
        statement = (
            select(
                Referral.id,
                Referral.ubrn,
                Referral.specialty,
                Referral.priority,
                Referral.referral_date,
                Patient.nhs_number,
            )
            .join(Patient, Referral.patient_id == Patient.id)
            .where(
                matching(Referral.ubrn, [record.ubrn for record in chunk], postgres=self.postgres)
            )
        )
        # Core execution: plain rows, without the ORM's per-row loading work.
        return {row.ubrn: row for row in self.session.connection().execute(statement)}

    def _existing_patients(self, chunk: Sequence[ReferralRow]) -> dict[str, Row[Any]]:
        wanted = {
            record.nhs_number
            for record in chunk
            if record.nhs_number not in self.patients
            and record.nhs_number not in self.conflicting_nhs_numbers
        }
        if not wanted:
            return {}
        columns = [getattr(Patient, name) for name in self.patient_fields]
        statement = select(Patient.id, Patient.nhs_number, Patient.date_of_birth, *columns).where(
            matching(Patient.nhs_number, sorted(wanted), postgres=self.postgres)
        )
        return {row.nhs_number: row for row in self.session.connection().execute(statement)}

    def _reject(self, record: ReferralRow, column: str, reason: str) -> None:
        self.outcome.problems.append(RowProblem(record.row, column, reason))

    def _patient_for(
        self, record: ReferralRow, stored: Row[Any] | None, writes: _ChunkWrites
    ) -> _PatientInThisImport | None:
        """The patient this row belongs to (queued for writing if new or changed), or None
        when the row contradicts the stored patient."""
        known = self.patients.get(record.nhs_number)
        if known is not None:
            source = known.source
            fields = self.patient_fields
            if source.patient_values(fields) != record.patient_values(fields):
                self.outcome.warnings.append(
                    RowWarning(
                        record.row,
                        None,
                        f"contact details differ from row {source.row} for the same NHS number; "
                        f"row {source.row}'s details were used",
                    )
                )
            return known
        if record.nhs_number in self.conflicting_nhs_numbers:
            self._reject(record, "nhs_number", NHS_NUMBER_IDENTITY_MISMATCH)
            return None
        if stored is None:
            known = _PatientInThisImport(None, changed=True, source=record)
            writes.patient_inserts.append(record)
        else:
            if identity_of(stored.given_name, stored.family_name, stored.date_of_birth) != (
                record.identity
            ):
                self.conflicting_nhs_numbers.add(record.nhs_number)
                self._reject(record, "nhs_number", NHS_NUMBER_IDENTITY_MISMATCH)
                return None
            values = record.patient_values(self.patient_fields)
            # The query selects id, nhs_number, date_of_birth, then the fields in order.
            stored_values: tuple[Any, ...] = tuple(stored[3:])
            changed = values != stored_values
            if changed:
                update_values = dict(zip(self.patient_fields, values, strict=True))
                writes.patient_updates.append(
                    {"id": stored.id, "updated_at": self.moment, **update_values}
                )
            known = _PatientInThisImport(stored.id, changed=changed, source=record)
        self.patients[record.nhs_number] = known
        return known

    def _chunk(self, chunk: Sequence[ReferralRow]) -> None:
        referrals = self._existing_referrals(chunk)
        patients = self._existing_patients(chunk)
        writes = _ChunkWrites()
        outcome = self.outcome
        for record in chunk:
            stored_referral = referrals.get(record.ubrn)
            if stored_referral is not None and stored_referral.nhs_number != record.nhs_number:
                self._reject(record, "ubrn", UBRN_OF_ANOTHER_PATIENT)
                continue
            patient = self._patient_for(record, patients.get(record.nhs_number), writes)
            if patient is None:
                continue
            if stored_referral is None:
                writes.referral_inserts.append(record)
                outcome.imported += 1
                continue
            stored_values = (
                stored_referral.specialty,
                stored_referral.priority,
                stored_referral.referral_date,
            )
            referral_changed = stored_values != record.referral_values()
            if referral_changed:
                writes.referral_updates.append(
                    {
                        "id": stored_referral.id,
                        "specialty": record.specialty,
                        "priority": record.priority,
                        "referral_date": record.referral_date,
                        "last_import_id": self.import_id,
                        "updated_at": self.moment,
                    }
                )
            elif patient.changed:
                writes.patient_changed_referral_ids.append(stored_referral.id)
            if referral_changed or patient.changed:
                outcome.updated += 1
            else:
                outcome.unchanged += 1
        self._write(writes)

    def _write(self, writes: _ChunkWrites) -> None:
        session = self.session
        if writes.patient_inserts:
            rows = [self._new_patient(record) for record in writes.patient_inserts]
            new_ids = insert_rows_returning_ids(session, _patient_table, _PATIENT_COLUMNS, rows)
            for patient_id, record in zip(new_ids, writes.patient_inserts, strict=True):
                self.patients[record.nhs_number].patient_id = patient_id
        if writes.patient_updates:
            session.execute(update(Patient), writes.patient_updates)
        if writes.referral_inserts:
            insert_rows(
                session,
                _referral_table,
                _REFERRAL_COLUMNS,
                [self._new_referral(record) for record in writes.referral_inserts],
            )
        if writes.referral_updates:
            session.execute(update(Referral), writes.referral_updates)
        if writes.patient_changed_referral_ids:
            # The referral's own fields are as they were: keep its updated_at.
            session.execute(
                update(_referral_table)
                .where(
                    matching(
                        Referral.id, writes.patient_changed_referral_ids, postgres=self.postgres
                    )
                )
                .values(last_import_id=self.import_id, updated_at=_referral_table.c.updated_at)
            )

    def _new_patient(self, record: ReferralRow) -> tuple[Any, ...]:
        moment = self.moment
        return (
            record.nhs_number,
            record.given_name,
            record.family_name,
            record.date_of_birth,
            record.mobile_phone,
            record.landline_phone,
            record.carer_phone,
            record.address_line_1,
            record.address_line_2,
            record.address_line_3,
            record.address_line_4,
            record.address_line_5,
            record.postcode,
            record.no_voicemail,
            record.no_sms,
            record.letter_only,
            record.landline_only,
            record.large_print,
            record.language,
            moment,
            moment,
        )

    def _new_referral(self, record: ReferralRow) -> tuple[Any, ...]:
        moment = self.moment
        return (
            record.ubrn,
            self.patients[record.nhs_number].patient_id,
            record.specialty,
            record.priority.value,
            record.referral_date,
            _WAITING,
            moment,
            0,
            moment,
            moment,
            self.import_id,
        )


def upsert_records(
    session: Session,
    records: Sequence[ReferralRow],
    *,
    import_id: int,
    optional_fields: tuple[str, ...],
    moment: datetime,
) -> UpsertOutcome:
    """Insert or update every record in ``session`` (no commit); see the module docstring.

    ``optional_fields`` are the optional patient columns the file has: others keep their stored
    values. ``moment`` stamps created/updated times and makes new referrals due at once.
    """
    upserter = _Upserter(
        session, import_id=import_id, optional_fields=optional_fields, moment=moment
    )
    return upserter.run(records)
