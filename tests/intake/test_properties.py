"""Property tests: whatever bytes arrive, the importer answers with a report, never a crash,
and never writes part of a rejected file."""

from __future__ import annotations

from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from rmc_outreach.config import Settings
from rmc_outreach.intake import EXIT_FILE_REJECTED, ImportReport
from tests.intake.factories import HEADER, worklist_csv, worklist_row
from tests.intake.support import import_bytes, table_counts

DATABASE_PROPERTY = hypothesis_settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
HEADER_LINE = ",".join(HEADER).encode() + b"\r\n"

arbitrary_files = st.one_of(
    st.binary(max_size=3000),
    st.binary(max_size=3000).map(lambda tail: HEADER_LINE + tail),
    st.binary(max_size=3000).map(lambda tail: b"\xef\xbb\xbf" + HEADER_LINE + tail),
)


def _check_report_shape(report: ImportReport) -> None:
    document = report.as_json()
    assert set(document) >= {"imported", "updated", "unchanged", "rejected", "file_errors"}
    assert report.exit_code in (0, 1, 2)
    for problem in document["rejected"]:
        assert isinstance(problem["row"], int) and problem["row"] >= 2
        assert problem["reason"]
    for error in document["file_errors"]:
        assert isinstance(error, str) and error


@DATABASE_PROPERTY
@given(data=arbitrary_files)
def test_arbitrary_bytes_give_a_clear_report_and_never_a_partial_import(
    settings: Settings, data: bytes
) -> None:
    before = table_counts()
    report = import_bytes(data, settings)
    after = table_counts()

    _check_report_shape(report)
    assert after["referral_import"] == before["referral_import"] + 1
    if report.exit_code == EXIT_FILE_REJECTED:
        assert report.file_errors
        assert (after["patient"], after["referral"]) == (before["patient"], before["referral"])
    else:
        assert report.file_errors == []
        assert after["referral"] - before["referral"] == report.imported


safe_text = st.text(
    alphabet=st.characters(exclude_categories=["Cs"], exclude_characters="\x00"),
    max_size=20,
)


@st.composite
def worklist_rows(draw: st.DrawFn) -> dict[str, str]:
    """A row whose every cell is either a valid value or arbitrary text."""
    valid = worklist_row(draw(st.integers(0, 30)))
    return {
        column: draw(
            st.one_of(st.just(value), safe_text) if draw(st.booleans()) else st.just(value)
        )
        for column, value in valid.items()
    }


@DATABASE_PROPERTY
@given(rows=st.lists(worklist_rows(), min_size=1, max_size=8))
def test_every_row_of_a_readable_file_is_accounted_for(
    settings: Settings, rows: list[dict[str, str]]
) -> None:
    before = table_counts()
    report = import_bytes(worklist_csv(rows), settings)
    after = table_counts()

    _check_report_shape(report)
    non_blank = sum(1 for row in rows if any(value.strip() for value in row.values()))
    if non_blank == 0:
        assert report.exit_code == EXIT_FILE_REJECTED
        return
    assert report.file_errors == []
    handled = report.imported + report.updated + report.unchanged + report.rejected_rows
    assert handled == non_blank
    assert after["referral"] - before["referral"] == report.imported
