"""Intake tests run at a fixed moment, so date rules (future, 130 years) are exact."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from rmc_outreach import clock

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def frozen_clock() -> Iterator[datetime]:
    """Every intake test runs at NOW (27 November 2026, noon UTC)."""
    with clock.frozen_at(NOW):
        yield NOW
