"""An admin's stored settings over the environment's: checked by the same rules (production's
limits included), saved whole or not at all, audited, and seen by every process."""

from __future__ import annotations

import dataclasses
import re
from datetime import time, timedelta

import pytest
from sqlalchemy import Engine, select, update

from rmc_outreach.db import session_scope
from rmc_outreach.engine_config import EngineConfig, with_overrides
from rmc_outreach.journey import FAST_CADENCE, ROUTINE_CADENCE
from rmc_outreach.messages import sms_segments
from rmc_outreach.models import AuditEvent, Setting
from rmc_outreach.settings_store.cadence import CadenceError, format_cadence, parse_cadence
from rmc_outreach.settings_store.live import LiveSettings
from rmc_outreach.settings_store.overrides import SettingError, current_values, parse_override
from rmc_outreach.settings_store.public_text import render_all
from rmc_outreach.settings_store.store import (
    AUDIT_ACTION,
    REVISION_KEY,
    load_overrides,
    save_settings,
)

# A right single quotation mark is not in the GSM alphabet: every text becomes UCS-2.
UCS2_SERVICE_NAME = "St Mary\u2019s referral booking service"


def save(config: EngineConfig, **wanted: object) -> dict[str, tuple[object, object]]:
    """Save ``wanted`` (keys with ``__`` for ``.``) as an admin would."""
    values = {key.replace("__", "."): value for key, value in wanted.items()}
    with session_scope() as session:
        return save_settings(session, values, base=config, actor_label="admin", actor_user_id=None)


def stored() -> dict[str, object]:
    with session_scope(read_only=True) as session:
        return load_overrides(session)


def test_the_shipped_cadences_read_back_from_their_text_unchanged() -> None:
    assert parse_cadence(format_cadence(ROUTINE_CADENCE)) == ROUTINE_CADENCE
    assert parse_cadence(format_cadence(FAST_CADENCE)) == FAST_CADENCE


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("", "at least one step"),
        ("ring morning", "step 1 must start with call, sms or letter"),
        ("call\nletter\nsms", "step 2: a letter is the last resort"),
        ("call\ncall +10m", "step 2: a call on the same day as the step before needs +1h"),
        ("call +11d", "at most +10d"),
        ("call soon", "'soon' is not +Nd"),
        ("\n".join(["call +1d"] * 13), "at most 12 steps"),
    ],
)
def test_an_unusable_cadence_is_refused_naming_the_step(text: str, reason: str) -> None:
    with pytest.raises(CadenceError, match=re.escape(reason)):
        parse_cadence(text)


def test_no_overrides_give_the_environments_configuration_itself(config: EngineConfig) -> None:
    assert with_overrides(config, {}) is config
    assert with_overrides(config, current_values(config)) == config


def test_overrides_change_the_window_pacing_caller_id_and_words(config: EngineConfig) -> None:
    changed = with_overrides(
        config,
        {
            "calling_hours.start": "09:30",
            "calling_hours.days": ["0", "2", "4"],
            "calling_hours.holiday_region": "scotland",
            "journey.routine": "call morning, sms +5m, letter +2d",
            "pacing.max_calls_in_flight": "8",
            "pacing.hold_wait_seconds": 45,
            "caller_ids.caller_id": "0113 496 0123",
            "messages.service_name": "Example referral booking team",
        },
    )

    assert (changed.window.start, changed.window.end) == (time(9, 30), time(18, 0))
    assert changed.window.days == frozenset({0, 2, 4})
    assert changed.window.holiday_region == "scotland"
    assert [step.channel.value for step in changed.policy.routine] == ["call", "sms", "letter"]
    assert changed.policy.urgent == config.policy.urgent
    assert changed.max_calls_in_flight == 8
    assert changed.pacing_limits.max_concurrent_calls == 8
    assert changed.hold_wait == timedelta(seconds=45)
    # Texts go from, and patients call back, the number we call from (as from the environment).
    assert changed.caller_id == changed.sms_sender == "+441134960123"
    assert changed.public_context.booking_number == "0113 496 0123"
    assert changed.public_context.booking_number_spoken == "0 1 1 3, 4 9 6, 0 1 2 3"
    assert changed.public_context.service_name == "Example referral booking team"


@pytest.mark.parametrize(
    ("key", "value", "reason"),
    [
        ("calling_hours.start", "7:30", "must be between 08:00 and 21:00"),
        ("calling_hours.end", "half six", "must be a time such as 08:00"),
        ("calling_hours.days", [], "choose at least one day"),
        ("calling_hours.holiday_region", "wales", "must be one of england-and-wales"),
        ("pacing.max_calls_per_second", "0", "must be positive"),
        ("pacing.abandoned_rate_cap", "3%", "must be a fraction such as 0.03"),
        ("pacing.abandoned_rate_cap", "1.5", "above 0 and at most 1"),
        ("caller_ids.caller_id", "0906 123 4567", "premium-rate"),
        ("caller_ids.sms_sender", "999", "emergency"),
        ("messages.service_name", "Oncology booking", "must not say 'Oncology'"),
        ("messages.service_name", "Call {{ nhs_number }}", "must be plain text"),
        ("messages.opening_hours", "ring 9434765919", "must not contain a long number"),
        ("messages.opening_hours_spoken", "", "must not be empty"),
        ("no.such", "1", "not a setting an admin may change"),
    ],
)
def test_an_unusable_value_is_refused_naming_the_setting(
    config: EngineConfig, key: str, value: object, reason: str
) -> None:
    with pytest.raises(SettingError, match=re.escape(reason)) as refused:
        with_overrides(config, {key: value})
    assert refused.value.key == key


def test_the_window_must_end_after_it_starts(config: EngineConfig) -> None:
    with pytest.raises(SettingError, match="must end after they start") as refused:
        with_overrides(config, {"calling_hours.end": "08:00"})
    assert refused.value.key == "calling_hours.end"


def test_production_keeps_ofcoms_limits_and_refuses_fictional_numbers(
    config: EngineConfig,
) -> None:
    production = dataclasses.replace(config, production=True)
    refusals = {
        "pacing.abandoned_rate_cap": ("0.05", "may not exceed Ofcom's 0.03 in production"),
        "pacing.redial_lockout_hours": ("24", "may not be shorter than Ofcom's 72 hours"),
        "caller_ids.caller_id": ("01632 960001", "fictional Ofcom drama number"),
        "messages.booking_number": ("07700 900123", "fictional Ofcom drama number"),
    }
    for key, (value, reason) in refusals.items():
        with pytest.raises(SettingError, match=reason):
            with_overrides(production, {key: value})
    # The same values are allowed outside production, and stricter ones always.
    assert with_overrides(config, {"pacing.abandoned_rate_cap": "0.05"}).abandoned_rate_cap == 0.05
    assert with_overrides(production, {"pacing.abandoned_rate_cap": "0.02"}).abandoned_rate_cap == (
        0.02
    )


def test_words_that_would_make_a_text_three_segments_are_refused(config: EngineConfig) -> None:
    # A curly apostrophe is not in the GSM alphabet: every text becomes UCS-2, 67 a part.
    with pytest.raises(SettingError, match=r"segments \(at most 2\)") as refused:
        with_overrides(config, {"messages.service_name": UCS2_SERVICE_NAME})
    assert refused.value.key == "messages.service_name"


def test_the_preview_counts_every_texts_segments(config: EngineConfig) -> None:
    rendered = render_all(config.public_context)
    texts = [message for message in rendered if message.channel == "sms"]
    assert {message.name for message in texts} >= {"invitation", "how_to_book", "help"}
    for message in texts:
        assert message.segments == sms_segments(message.text)
        assert not message.too_long
    assert any(message.channel == "voice" and message.name == "voicemail" for message in rendered)


def test_a_save_stores_only_changes_from_the_default_and_audits_old_and_new(
    database: Engine, config: EngineConfig
) -> None:
    changed = save(
        config,
        calling_hours__start="09:00",
        calling_hours__end="18:00",
        caller_ids__caller_id="+441134960123",
    )

    assert changed == {
        "calling_hours.start": ("08:00", "09:00"),
        "caller_ids.caller_id": ("+441632960000", "+441134960123"),
    }
    assert stored() == {"calling_hours.start": "09:00", "caller_ids.caller_id": "+441134960123"}
    with session_scope(read_only=True) as session:
        [event] = session.scalars(select(AuditEvent).where(AuditEvent.action == AUDIT_ACTION))
        assert event.object_type == "setting"
        # Numbers are masked in the trail: never a clear phone number.
        assert event.detail == {
            "calling_hours.start": {"old": "08:00", "new": "09:00"},
            "caller_ids.caller_id": {"old": "01632 9•••00", "new": "0113 49• ••23"},
        }
        assert session.get(Setting, REVISION_KEY).value == 1  # type: ignore[union-attr]

    # Back to the default: the stored value goes, the environment applies again.
    save(config, calling_hours__start="08:00")
    assert stored() == {"caller_ids.caller_id": "+441134960123"}


def test_a_save_that_fails_any_check_stores_nothing(database: Engine, config: EngineConfig) -> None:
    save(config, calling_hours__end="17:00")

    with pytest.raises(SettingError):
        # The start is fine alone, but after the stored end.
        save(config, calling_hours__start="17:30", pacing__max_calls_in_flight=5)

    assert stored() == {"calling_hours.end": "17:00"}
    with session_scope(read_only=True) as session:
        events = session.scalars(select(AuditEvent).where(AuditEvent.action == AUDIT_ACTION)).all()
        assert len(events) == 1


def test_a_save_changing_nothing_writes_nothing(database: Engine, config: EngineConfig) -> None:
    assert save(config, calling_hours__start="08:00") == {}
    assert stored() == {}
    with session_scope(read_only=True) as session:
        assert session.scalars(select(AuditEvent)).all() == []


class FakeMonotonic:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_other_processes_see_a_change_once_the_revision_moves(
    database: Engine, config: EngineConfig
) -> None:
    clock = FakeMonotonic()
    live = LiveSettings(refresh_seconds=5, monotonic=clock)
    assert live.applied(config) is config

    save(config, calling_hours__start="10:00")  # as another process would: no invalidate here
    assert live.applied(config) is config  # checked less than 5 s ago: from memory
    clock.now += 5
    seen = live.applied(config)
    assert seen.window.start == time(10, 0)
    assert live.applied(config) is seen  # built once per revision


def test_stored_values_that_no_longer_pass_the_checks_give_the_environments_settings(
    database: Engine, config: EngineConfig
) -> None:
    save(config, pacing__abandoned_rate_cap="0.05")
    production = dataclasses.replace(config, production=True)
    live = LiveSettings()

    assert live.applied(production) is production
    assert live.applied(config).abandoned_rate_cap == 0.05


def test_a_stored_value_edited_behind_the_apps_back_is_checked_too(
    database: Engine, config: EngineConfig
) -> None:
    save(config, pacing__max_calls_in_flight=5)
    with session_scope() as session:
        session.execute(update(Setting).where(Setting.key != REVISION_KEY).values(value="lots"))
    assert LiveSettings().applied(config) is config


def test_parse_override_gives_canonical_values(config: EngineConfig) -> None:
    assert parse_override("calling_hours.start", " 9:05", production=False) == "09:05"
    assert parse_override("calling_hours.days", ["4", "0", "4"], production=False) == [0, 4]
    assert parse_override("messages.booking_number", "+44 113 496 0123", production=False) == (
        "0113 496 0123"
    )
    assert parse_override("journey.urgent", "CALL , sms +60m", production=False) == "call\nsms +1h"
