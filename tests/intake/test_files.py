"""File-level behaviour: encodings, limits, headers, row numbering. A file error rejects all."""

from __future__ import annotations

import dataclasses
import json

import pytest
from sqlalchemy import select

from rmc_outreach.config import Settings
from rmc_outreach.db import session_scope
from rmc_outreach.intake import EXIT_ACCEPTED, EXIT_FILE_REJECTED, EXIT_ROWS_REJECTED
from rmc_outreach.models import AuditEvent, ImportStatus, ReferralImport
from tests.intake.factories import HEADER, worklist_csv, worklist_row
from tests.intake.support import (
    import_bytes,
    import_rows,
    problems_at,
    stored_patient,
    table_counts,
)


def assert_file_rejected(data: bytes, settings: Settings, *fragments: str) -> list[str]:
    """Import ``data``, check the whole file was refused and nothing but the run was stored."""
    before = table_counts()
    report = import_bytes(data, settings)
    after = table_counts()
    assert report.exit_code == EXIT_FILE_REJECTED
    assert report.imported == report.updated == report.unchanged == 0
    text = " ".join(report.file_errors)
    for fragment in fragments:
        assert fragment in text
    assert after["patient"] == before["patient"]
    assert after["referral"] == before["referral"]
    assert after["referral_import"] == before["referral_import"] + 1
    assert after["audit_event"] == before["audit_event"] + 1
    return report.file_errors


def test_a_valid_worklist_imports_every_row_with_clean_values(settings: Settings) -> None:
    rows = [
        worklist_row(0, given_name="  Zoë  Anne ", postcode="ls14ap", priority="Two Week Wait"),
        worklist_row(1, mobile_phone="+44 (0)7700 900 001", date_of_birth="1/2/1950"),
    ]
    report = import_rows(rows, settings)

    assert report.exit_code == EXIT_ACCEPTED
    assert (report.imported, report.updated, report.unchanged) == (2, 0, 0)
    assert report.rejected == [] and report.file_errors == []
    first = stored_patient(rows[0]["nhs_number"])
    assert first.given_name == "Zoë Anne"
    assert first.postcode == "LS1 4AP"
    assert first.mobile_phone == "+447700900000"
    assert first.landline_phone == "+441134960000"
    second = stored_patient(rows[1]["nhs_number"])
    assert second.mobile_phone == "+447700900001"
    assert second.date_of_birth.isoformat() == "1950-02-01"


def test_every_run_is_recorded_with_an_audit_event_and_no_personal_data(
    settings: Settings,
) -> None:
    rows = [worklist_row(0), worklist_row(1, nhs_number="4010232138", given_name="Siobhán")]
    report = import_rows(rows, settings)

    assert report.exit_code == EXIT_ROWS_REJECTED
    with session_scope() as session:
        run = session.scalars(select(ReferralImport)).one()
        event = session.scalars(select(AuditEvent)).one()
        assert run.id == report.import_id
        assert run.status is ImportStatus.COMPLETED_WITH_REJECTIONS
        assert (run.imported_count, run.rejected_count) == (1, 1)
        assert run.filename == "worklist.csv"
        assert len(run.sha256) == 64
        assert run.actor_label == "test:intake"
        assert (event.action, event.outcome, event.object_id) == (
            "referrals.import",
            "partial",
            str(report.import_id),
        )
        assert event.detail["imported"] == 1 and event.detail["rejected_rows"] == 1
        stored = json.dumps(run.report) + json.dumps(event.detail)
    for row in rows:
        for column in ("nhs_number", "given_name", "family_name", "ubrn", "mobile_phone"):
            assert row[column] not in stored
    assert "+447700900000" not in stored


def test_a_byte_order_mark_is_accepted(settings: Settings) -> None:
    report = import_rows([worklist_row(0)], settings, bom=True)
    assert report.exit_code == EXIT_ACCEPTED
    assert report.imported == 1


def test_windows_1252_is_decoded_correctly_with_a_warning(settings: Settings) -> None:
    row = worklist_row(0, given_name="Zoë", family_name="Ó Súilleabháin", address_line_2="Café €")
    data = worklist_csv([row], encoding="cp1252")
    assert b"Zo\xeb" in data  # really Windows-1252 bytes, not UTF-8

    report = import_bytes(data, settings)

    assert report.exit_code == EXIT_ACCEPTED
    patient = stored_patient(row["nhs_number"])
    assert (patient.given_name, patient.family_name) == ("Zoë", "Ó Súilleabháin")
    assert patient.address_line_2 == "Café €"
    assert [warning.row for warning in report.warnings] == [None]
    assert "Windows-1252" in report.warnings[0].warning


def test_bytes_that_are_neither_utf8_nor_windows_1252_reject_the_file(settings: Settings) -> None:
    data = worklist_csv([worklist_row(0, given_name="Zoë")], encoding="cp1252")
    data = data.replace(b"Zo\xeb", b"Zo\x81")  # 0x81 is undefined in Windows-1252
    assert_file_rejected(data, settings, "neither UTF-8 nor Windows-1252", "0x81", "CSV UTF-8")


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-le", "utf-16-be", "utf-32"])
def test_utf16_and_utf32_files_are_refused_with_how_to_fix_it(
    settings: Settings, encoding: str
) -> None:
    data = worklist_csv([worklist_row(0)], encoding=encoding)
    if encoding in ("utf-16-le", "utf-16-be"):
        assert_file_rejected(data, settings, "NUL bytes", "UTF-16", "CSV UTF-8")
    else:
        assert_file_rejected(data, settings, "UTF-", "CSV UTF-8")


def test_nul_bytes_refuse_the_file(settings: Settings) -> None:
    data = worklist_csv([worklist_row(0, given_name="Ann\x00e")])
    assert_file_rejected(data, settings, "NUL bytes")


def test_a_spreadsheet_workbook_is_refused_as_not_csv(settings: Settings) -> None:
    assert_file_rejected(b"PK\x03\x04\x14\x00\x06\x00rest-of-zip", settings, ".xlsx", "CSV UTF-8")


@pytest.mark.parametrize(
    ("data", "fragment"),
    [
        (b"", "empty"),
        (b"  \r\n\r\n", "empty"),
        (b"\xef\xbb\xbf", "no header row"),
        (b",,,\r\n,,\r\n", "no header row"),
        (",".join(HEADER).encode() + b"\r\n", "no data rows"),
        (",".join(HEADER).encode() + b"\r\n,,,\r\n\r\n", "no data rows"),
    ],
)
def test_empty_and_header_only_files_are_rejected(
    settings: Settings, data: bytes, fragment: str
) -> None:
    assert_file_rejected(data, settings, fragment)


def test_a_file_over_the_size_limit_is_rejected(settings: Settings) -> None:
    data = worklist_csv([worklist_row(index) for index in range(3)])
    small = dataclasses.replace(settings, intake_max_bytes=len(data) - 1)
    assert_file_rejected(data, small, "over the limit", f"{len(data) - 1:,}")
    assert (
        import_bytes(data, dataclasses.replace(settings, intake_max_bytes=len(data))).imported == 3
    )


def test_a_file_over_the_row_limit_is_rejected(settings: Settings) -> None:
    data = worklist_csv([worklist_row(index) for index in range(3)])
    assert_file_rejected(data, dataclasses.replace(settings, intake_max_rows=2), "more than 2 rows")
    assert import_bytes(data, dataclasses.replace(settings, intake_max_rows=3)).imported == 3


def test_missing_required_columns_are_all_named(settings: Settings) -> None:
    header = [column for column in HEADER if column not in ("postcode", "priority")]
    data = worklist_csv([worklist_row(0)], header=header)
    assert_file_rejected(data, settings, "missing required columns: postcode, priority")


def test_a_repeated_column_rejects_the_file(settings: Settings) -> None:
    header = [*HEADER, "Postcode "]
    data = worklist_csv([worklist_row(0)], header=header)
    assert_file_rejected(data, settings, "column postcode appears more than once", "columns M, X")


def test_headers_are_matched_ignoring_case_spaces_and_order(settings: Settings) -> None:
    columns = list(reversed(HEADER))
    labels = {column: f"  {column.replace('_', ' ').title()} " for column in columns}
    row = worklist_row(0)
    data = worklist_csv(
        [{labels[column]: row[column] for column in columns}],
        header=[labels[column] for column in columns],
    )
    report = import_bytes(data, settings)
    assert report.exit_code == EXIT_ACCEPTED
    assert report.imported == 1


def test_unknown_columns_are_ignored_with_a_warning_on_row_1(settings: Settings) -> None:
    header = [*HEADER, "GP Practice", "Notes"]
    row = {**worklist_row(0), "GP Practice": "Y12345", "Notes": "anything"}
    report = import_bytes(worklist_csv([row], header=header), settings)
    assert report.exit_code == EXIT_ACCEPTED
    assert [(w.row, w.column, w.warning) for w in report.warnings] == [
        (1, "gp_practice", "unknown column ignored"),
        (1, "notes", "unknown column ignored"),
    ]


def test_optional_columns_may_be_left_out(settings: Settings) -> None:
    header = [column for column in HEADER if column not in ("no_sms", "language", "carer_phone")]
    report = import_bytes(worklist_csv([worklist_row(0)], header=header), settings)
    assert report.exit_code == EXIT_ACCEPTED


def test_a_data_row_mistaken_for_a_header_is_not_echoed(settings: Settings) -> None:
    row = worklist_row(0)
    data = worklist_csv([row], header=HEADER)
    data = data.split(b"\r\n", 1)[1]  # drop the header: the first row is a patient's
    errors = assert_file_rejected(data, settings, "not a header row")
    for value in (row["nhs_number"], row["given_name"], row["family_name"]):
        assert value not in " ".join(errors)


def test_a_semicolon_separated_file_is_rejected_with_the_reason(settings: Settings) -> None:
    data = ";".join(HEADER).encode() + b"\r\n" + ";".join(worklist_row(0).values()).encode()
    assert_file_rejected(data, settings, "separated by commas", "semicolons")


def test_a_field_too_large_for_the_csv_reader_is_a_clear_file_error(settings: Settings) -> None:
    data = worklist_csv([worklist_row(0, address_line_2="x" * 200_000)])
    assert_file_rejected(data, settings, "row 2 cannot be read as CSV")


def test_row_numbers_count_blank_lines_and_multi_line_cells_as_a_spreadsheet_does(
    settings: Settings,
) -> None:
    good = worklist_csv([worklist_row(0)]).decode()
    header, first = good.strip().split("\r\n")
    bad_date = worklist_csv([worklist_row(1, date_of_birth="not a date")]).decode()
    bad_line = bad_date.strip().split("\r\n")[1]
    multi_line = worklist_csv([worklist_row(2, address_line_2="Flat 3\nBlock B")]).decode()
    multi = multi_line.strip().split("\r\n", 1)[1]
    text = "\r\n".join(["", header, first, "", multi, ",,,", bad_line]) + "\r\n"

    report = import_bytes(text.encode(), settings)

    # row 1 blank, header row 2, data rows 3, (4 blank), 5 (two lines), (6 blank), 7
    assert problems_at(report) == {
        (5, "address_line_2"): "address line 2 contains a line break or another control character",
        (7, "date_of_birth"): "date of birth must be a date written DD/MM/YYYY or YYYY-MM-DD",
    }
    assert report.imported == 1


def test_a_row_with_the_wrong_number_of_fields_is_rejected_alone(settings: Settings) -> None:
    good = worklist_csv([worklist_row(0), worklist_row(1)]).decode().split("\r\n")
    good[2] = good[2] + ',"extra"'
    short = ",".join(good[1].split(",")[:5])
    text = "\r\n".join([*good[:3], short, ""])
    report = import_bytes(text.encode(), settings)
    assert problems_at(report) == {
        (3, None): f"row has {len(HEADER) + 1} fields but the header has {len(HEADER)}",
        (4, None): f"row has 5 fields but the header has {len(HEADER)}",
    }
    assert report.imported == 1
    assert report.exit_code == EXIT_ROWS_REJECTED


def test_trailing_empty_fields_after_the_header_width_are_tolerated(settings: Settings) -> None:
    text = worklist_csv([worklist_row(0)]).decode().replace("\r\n", ",,\r\n")
    text = text.replace(",,\r\n", "\r\n", 1)  # the header keeps its width
    report = import_bytes(text.encode(), settings)
    assert report.exit_code == EXIT_ACCEPTED
