"""The example in docs/worklist-format.md imports exactly as the page says."""

from __future__ import annotations

import re

from rmc_outreach.config import PROJECT_ROOT, Settings
from tests.intake.support import import_bytes, stored_patient


def test_the_documented_example_worklist_imports_with_its_one_warning(settings: Settings) -> None:
    page = (PROJECT_ROOT / "docs" / "worklist-format.md").read_text(encoding="utf-8")
    example = re.search(r"```csv\n(.*?)```", page, re.DOTALL)
    assert example is not None

    report = import_bytes(example.group(1).encode("utf-8"), settings)

    assert (report.imported, report.rejected, report.file_errors) == (3, [], [])
    assert [(w.row, w.warning) for w in report.warnings] == [
        (4, "no postal address: letters cannot be sent")
    ]
    assert stored_patient("9990000077").family_name == "Ó Súilleabháin"
    assert stored_patient("9990000018").landline_only is True
