"""Referral intake: import an e-RS-style worklist CSV, validate every row, upsert by UBRN.

    from rmc_outreach.intake import import_worklist, ImportReport
    report = import_worklist(data, filename=name, settings=settings, actor_label="cli:alice")
    report.exit_code  # 0 all rows accepted, 1 some rows rejected, 2 file rejected

The column format is documented in docs/worklist-format.md.
"""

from rmc_outreach.intake.columns import KNOWN_COLUMNS, OPTIONAL_COLUMNS, REQUIRED_COLUMNS
from rmc_outreach.intake.importer import import_worklist
from rmc_outreach.intake.report import (
    EXIT_ACCEPTED,
    EXIT_FILE_REJECTED,
    EXIT_ROWS_REJECTED,
    ImportReport,
    RowProblem,
    RowWarning,
)

__all__ = [
    "EXIT_ACCEPTED",
    "EXIT_FILE_REJECTED",
    "EXIT_ROWS_REJECTED",
    "KNOWN_COLUMNS",
    "OPTIONAL_COLUMNS",
    "REQUIRED_COLUMNS",
    "ImportReport",
    "RowProblem",
    "RowWarning",
    "import_worklist",
]
