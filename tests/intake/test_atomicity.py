"""One transaction: a failure part-way through an import leaves nothing of it written."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import Engine, select, text
from sqlalchemy.exc import DBAPIError

from rmc_outreach.config import Settings
from rmc_outreach.db import session_scope
from rmc_outreach.intake import bulk, upsert
from rmc_outreach.models import AuditEvent, ImportStatus, ReferralImport
from tests.intake.factories import synthetic_ubrn, worklist_row
from tests.intake.support import import_rows, stored_patient, table_counts

FAILING_UBRN = synthetic_ubrn(4)


@pytest.fixture
def referral_insert_trigger(database: Engine) -> Iterator[None]:
    """A database trigger that fails the insert of one particular referral."""
    with database.begin() as connection:
        if database.dialect.name == "sqlite":
            connection.execute(
                text(
                    "CREATE TRIGGER fail_one_referral BEFORE INSERT ON referral "
                    f"WHEN NEW.ubrn = '{FAILING_UBRN}' "
                    "BEGIN SELECT RAISE(ABORT, 'injected failure'); END"
                )
            )
        else:
            connection.execute(
                text(
                    "CREATE FUNCTION fail_one_referral() RETURNS trigger AS $$ BEGIN "
                    f"IF NEW.ubrn = '{FAILING_UBRN}' THEN RAISE EXCEPTION 'injected failure'; "
                    "END IF; RETURN NEW; END $$ LANGUAGE plpgsql"
                )
            )
            connection.execute(
                text(
                    "CREATE TRIGGER fail_one_referral BEFORE INSERT ON referral "
                    "FOR EACH ROW EXECUTE FUNCTION fail_one_referral()"
                )
            )
    try:
        yield
    finally:
        with database.begin() as connection:
            if database.dialect.name == "sqlite":
                connection.execute(text("DROP TRIGGER fail_one_referral"))
            else:
                connection.execute(text("DROP TRIGGER fail_one_referral ON referral"))
                connection.execute(text("DROP FUNCTION fail_one_referral()"))


def _failed_run_is_recorded() -> None:
    with session_scope() as session:
        run = session.scalars(select(ReferralImport)).one()
        event = session.scalars(select(AuditEvent)).one()
        assert run.status is ImportStatus.FAILED
        assert run.imported_count == 0
        assert (event.action, event.outcome) == ("referrals.import", "failed")


@pytest.mark.usefixtures("referral_insert_trigger")
def test_a_database_failure_in_a_later_chunk_leaves_nothing_imported(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Small chunks, so earlier chunks' patients and referrals are written before the failure.
    monkeypatch.setattr(upsert, "CHUNK_SIZE", 2)
    rows = [worklist_row(index) for index in range(6)]

    with pytest.raises(DBAPIError, match="injected failure"):
        import_rows(rows, settings)

    counts = table_counts()
    assert (counts["patient"], counts["referral"]) == (0, 0)
    _failed_run_is_recorded()


def test_a_crash_after_some_updates_leaves_the_stored_records_as_they_were(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    rows = [worklist_row(index) for index in range(4)]
    import_rows(rows, settings)
    monkeypatch.setattr(upsert, "CHUNK_SIZE", 2)
    real_insert_rows = bulk.insert_rows
    calls: list[int] = []

    def insert_then_crash(*args: Any, **kwargs: Any) -> None:
        calls.append(1)
        real_insert_rows(*args, **kwargs)
        if len(calls) == 2:
            raise RuntimeError("process killed")

    monkeypatch.setattr("rmc_outreach.intake.upsert.insert_rows", insert_then_crash)
    changed = [{**row, "mobile_phone": "07700 900888"} for row in rows]
    new = [worklist_row(index) for index in range(4, 8)]
    before = table_counts()

    with pytest.raises(RuntimeError, match="process killed"):
        import_rows([*changed[:2], *new[:2], *changed[2:], *new[2:]], settings)

    after = table_counts()
    assert len(calls) == 2
    assert (after["patient"], after["referral"]) == (before["patient"], before["referral"])
    assert after["referral_import"] == before["referral_import"] + 1
    for row in rows:
        assert stored_patient(row["nhs_number"]).mobile_phone != "+447700900888"
