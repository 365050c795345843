"""Fixtures for the contact engine tests: the engine configuration and a fake provider."""

from __future__ import annotations

import pytest

from rmc_outreach.config import Settings
from rmc_outreach.engine_config import EngineConfig
from tests.engine.support import FakeProvider, engine_config_for


@pytest.fixture
def config(settings: Settings) -> EngineConfig:
    """The engine configuration for the test database's settings."""
    return engine_config_for(settings)


@pytest.fixture
def provider() -> FakeProvider:
    """A telephony provider at the network edge that records what it is asked to do."""
    return FakeProvider()
