"""The worker's runtime uses the settings an admin stored, without a restart."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from datetime import time

import pytest
from sqlalchemy import Engine

from rmc_outreach.config import Settings
from rmc_outreach.db import session_scope
from rmc_outreach.settings_store.live import live_settings
from rmc_outreach.settings_store.store import save_settings
from tests.engine.support import FakeProvider, engine_config_for
from workers.runtime import configure_runtime, reset_runtime, runtime


@pytest.fixture
def fresh_runtime(settings: Settings) -> Iterator[FakeProvider]:
    provider = FakeProvider()
    configure_runtime(settings, provider=provider, config=engine_config_for(settings))
    yield provider
    reset_runtime()


def store(settings: Settings, **wanted: object) -> None:
    with session_scope() as session:
        save_settings(
            session,
            {key.replace("__", "."): value for key, value in wanted.items()},
            base=engine_config_for(settings),
            actor_label="admin",
            actor_user_id=None,
        )


def test_changed_calling_hours_reach_a_fresh_runtime(
    database: Engine, settings: Settings, fresh_runtime: FakeProvider
) -> None:
    store(settings, calling_hours__start="09:15", calling_hours__end="17:00")

    current = runtime()

    assert (current.config.window.start, current.config.window.end) == (time(9, 15), time(17, 0))
    assert current.provider is fresh_runtime
    assert current.settings == settings


def test_a_running_worker_sees_a_change_within_the_refresh_time(
    database: Engine, settings: Settings, fresh_runtime: FakeProvider
) -> None:
    before = runtime().config
    assert before.max_calls_in_flight == 20

    store(settings, pacing__max_calls_in_flight=7)  # saved by the web: another process
    assert runtime().config is before  # until the next check, tasks answer from memory

    live_settings.invalidate()  # as the refresh interval passing does (tested with a clock in
    # tests/engine/test_settings_overrides.py)
    after = runtime().config
    assert after.max_calls_in_flight == 7
    assert runtime().config is after


def test_without_stored_settings_the_runtime_is_the_one_configured(
    database: Engine, settings: Settings, fresh_runtime: FakeProvider
) -> None:
    configured = configure_runtime(settings, provider=fresh_runtime)
    assert runtime() is configured


def test_a_worker_needs_twilio_credentials_only_when_it_first_calls_or_texts(
    settings: Settings,
) -> None:
    # An import-only worker runs without them; the first call or text still fails loudly.
    bare = dataclasses.replace(settings, twilio_account_sid=None, twilio_auth_token=None)
    try:
        current = configure_runtime(bare)
        with pytest.raises(ValueError, match="TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN"):
            current.provider.place_call  # noqa: B018 - the first use builds the provider
    finally:
        reset_runtime()
