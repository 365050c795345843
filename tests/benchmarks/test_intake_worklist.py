"""The intake benchmark's synthetic worklist is a valid worklist: every row is imported."""

from __future__ import annotations

from sqlalchemy import Engine

from benchmarks.intake import synthetic_worklist
from rmc_outreach.config import Settings
from rmc_outreach.intake.importer import import_worklist


def test_every_row_of_the_benchmark_worklist_is_imported(
    database: Engine, settings: Settings
) -> None:
    report = import_worklist(
        synthetic_worklist(40, seed=3), filename="bench.csv", settings=settings, actor_label="t"
    )

    assert (report.file_errors, report.rejected) == ([], [])
    assert report.imported == 40
