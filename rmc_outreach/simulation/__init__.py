"""Synthetic data and simulated counterparts for demos, tests and benchmarks.

Everything here is fictional by construction: NHS numbers from the 999 test range and phone numbers
from Ofcom's drama ranges only, so nothing made here can ever reach a real patient.
"""

from rmc_outreach.simulation.population import (
    WORKLIST_COLUMNS,
    synthetic_nhs_numbers,
    synthetic_ubrns,
    synthetic_worklist_csv,
    synthetic_worklist_rows,
)

__all__ = [
    "WORKLIST_COLUMNS",
    "synthetic_nhs_numbers",
    "synthetic_ubrns",
    "synthetic_worklist_csv",
    "synthetic_worklist_rows",
]
