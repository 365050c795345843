"""What an import did: counts, rejected rows, warnings and file errors, for people and machines.

Nothing here holds personal data: reasons and warnings name rows and columns, never values, so
the JSON is stored as the import's history and may be printed or logged.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

EXIT_ACCEPTED = 0
EXIT_ROWS_REJECTED = 1
EXIT_FILE_REJECTED = 2
SUMMARY_DETAIL_LINES = 20


@dataclass(frozen=True, slots=True)
class RowProblem:
    """Why a row was rejected: spreadsheet row number, column (None: the whole row), reason."""

    row: int
    column: str | None
    reason: str

    def as_json(self) -> dict[str, Any]:
        """``{"row": r, "column": "...", "reason": "..."}``."""
        return {"row": self.row, "column": self.column, "reason": self.reason}


@dataclass(frozen=True, slots=True)
class RowWarning:
    """Something accepted but worth knowing; row and column are None for the whole file."""

    row: int | None
    column: str | None
    warning: str

    def as_json(self) -> dict[str, Any]:
        """``{"row": r, "column": "...", "warning": "..."}``."""
        return {"row": self.row, "column": self.column, "warning": self.warning}


@dataclass(slots=True)
class ImportReport:
    """The outcome of one ``import_worklist`` call."""

    import_id: int | None = None
    imported: int = 0
    updated: int = 0
    unchanged: int = 0
    rejected: list[RowProblem] = field(default_factory=list)
    warnings: list[RowWarning] = field(default_factory=list)
    file_errors: list[str] = field(default_factory=list)

    @property
    def rejected_rows(self) -> int:
        """How many rows were rejected (a row with several problems counts once)."""
        return len({problem.row for problem in self.rejected})

    @property
    def exit_code(self) -> int:
        """0 every row accepted, 1 some rows rejected, 2 the file rejected."""
        if self.file_errors:
            return EXIT_FILE_REJECTED
        if self.rejected:
            return EXIT_ROWS_REJECTED
        return EXIT_ACCEPTED

    def as_json(self, *, limit: int | None = None) -> dict[str, Any]:
        """The report as one JSON-ready object; ``limit`` caps the rejected and warning lists."""
        rejected = sorted(self.rejected, key=_problem_order)
        warnings = sorted(self.warnings, key=_warning_order)
        result: dict[str, Any] = {
            "import_id": self.import_id,
            "imported": self.imported,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "rejected": [problem.as_json() for problem in rejected[:limit]],
            "file_errors": list(self.file_errors),
            "warnings": [warning.as_json() for warning in warnings[:limit]],
        }
        if limit is not None and (len(rejected) > limit or len(warnings) > limit):
            result["truncated"] = {"rejected": len(rejected), "warnings": len(warnings)}
        return result

    def summary_lines(self) -> list[str]:
        """A short human-readable summary for the terminal (row numbers and reasons only)."""
        if self.file_errors:
            lines = ["File rejected, nothing imported:"]
            lines.extend(f"  - {error}" for error in self.file_errors)
            return lines
        lines = [
            f"Imported {self.imported} new, updated {self.updated}, unchanged {self.unchanged}, "
            f"rejected {self.rejected_rows} row(s)."
        ]
        if self.rejected:
            lines.append("Rejected rows:")
            lines.extend(_detail_lines(sorted(self.rejected, key=_problem_order)))
        if self.warnings:
            lines.append("Warnings:")
            lines.extend(_detail_lines(sorted(self.warnings, key=_warning_order)))
        return lines


def _problem_order(problem: RowProblem) -> tuple[int, str]:
    return problem.row, problem.column or ""


def _warning_order(warning: RowWarning) -> tuple[int, str]:
    return warning.row or 0, warning.column or ""


def _detail_lines(items: list[RowProblem] | list[RowWarning]) -> list[str]:
    lines = []
    for item in items[:SUMMARY_DETAIL_LINES]:
        where = "file" if item.row is None else f"row {item.row}"
        if item.column:
            where += f", {item.column}"
        text = item.reason if isinstance(item, RowProblem) else item.warning
        lines.append(f"  - {where}: {text}")
    if len(items) > SUMMARY_DETAIL_LINES:
        lines.append(f"  ... and {len(items) - SUMMARY_DETAIL_LINES} more (see the JSON report)")
    return lines
