"""The import report: exit codes, JSON shape, and a terminal summary without personal data."""

from __future__ import annotations

from rmc_outreach.intake import ImportReport, RowProblem, RowWarning
from rmc_outreach.intake.report import SUMMARY_DETAIL_LINES


def test_exit_codes_say_accepted_rows_rejected_or_file_rejected() -> None:
    assert ImportReport(imported=3).exit_code == 0
    assert ImportReport(imported=3, rejected=[RowProblem(4, "ubrn", "x")]).exit_code == 1
    assert ImportReport(file_errors=["the file is empty"]).exit_code == 2


def test_the_json_has_the_documented_shape_sorted_by_row() -> None:
    report = ImportReport(
        import_id=7,
        imported=1,
        updated=2,
        unchanged=3,
        rejected=[RowProblem(9, "postcode", "bad"), RowProblem(4, None, "short row")],
        warnings=[RowWarning(5, "postcode", "no postal address"), RowWarning(None, None, "cp")],
    )
    assert report.as_json() == {
        "import_id": 7,
        "imported": 1,
        "updated": 2,
        "unchanged": 3,
        "rejected": [
            {"row": 4, "column": None, "reason": "short row"},
            {"row": 9, "column": "postcode", "reason": "bad"},
        ],
        "file_errors": [],
        "warnings": [
            {"row": None, "column": None, "warning": "cp"},
            {"row": 5, "column": "postcode", "warning": "no postal address"},
        ],
    }


def test_a_limited_json_copy_says_how_much_was_left_out() -> None:
    report = ImportReport(rejected=[RowProblem(row, "ubrn", "x") for row in range(2, 12)])
    document = report.as_json(limit=3)
    assert [problem["row"] for problem in document["rejected"]] == [2, 3, 4]
    assert document["truncated"] == {"rejected": 10, "warnings": 0}


def test_rows_with_several_problems_count_once() -> None:
    report = ImportReport(
        rejected=[
            RowProblem(3, "ubrn", "a"),
            RowProblem(3, "postcode", "b"),
            RowProblem(5, None, "c"),
        ]
    )
    assert report.rejected_rows == 2


def test_the_summary_gives_counts_and_the_first_problems() -> None:
    problems = [RowProblem(row, "postcode", "postcode is not valid") for row in range(2, 40)]
    report = ImportReport(imported=5, updated=1, unchanged=2, rejected=problems)
    lines = report.summary_lines()
    assert lines[0] == "Imported 5 new, updated 1, unchanged 2, rejected 38 row(s)."
    assert lines[2] == "  - row 2, postcode: postcode is not valid"
    assert lines[-1] == f"  ... and {38 - SUMMARY_DETAIL_LINES} more (see the JSON report)"


def test_the_summary_of_a_rejected_file_lists_every_file_error() -> None:
    report = ImportReport(file_errors=["missing required columns: postcode", "column x twice"])
    assert report.summary_lines() == [
        "File rejected, nothing imported:",
        "  - missing required columns: postcode",
        "  - column x twice",
    ]
