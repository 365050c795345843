"""An admin's stored settings applied over the engine configuration from the environment.

``OVERRIDE_KEYS`` lists what may be changed; ``parse_override`` checks one value with the rules
the environment's values follow (``rmc_outreach.engine_config``'s own checks, production's limits
included) and gives its canonical JSON form; ``apply_overrides`` checks them together and builds
the configuration. ``current_values`` is the other direction: a configuration's values, in the
same form, for the settings page.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import replace
from datetime import date, time, timedelta
from typing import Any

from rmc_outreach.calendar import HOLIDAY_REGIONS, CallingWindow
from rmc_outreach.engine_config import (
    EngineConfig,
    abandoned_rate_cap_value,
    positive_int,
    redial_lockout_value,
)
from rmc_outreach.journey import Step
from rmc_outreach.messages import PublicContext, spoken_number
from rmc_outreach.phones import InvalidPhoneNumber, format_national, normalise_phone
from rmc_outreach.settings_store.cadence import CadenceError, format_cadence, parse_cadence
from rmc_outreach.settings_store.public_text import (
    PublicTextError,
    check_messages,
    check_text_value,
)

# The letter date of the sample letter rendered to check a change (any date will do).
PREVIEW_DATE = date(2026, 1, 5)


# What an admin may change in the browser (rmc_outreach.settings_store), by key, with the
# label their messages name. Values are JSON; ``apply_overrides`` checks each with the rules the
# environment's values follow, and production's limits still hold.
OVERRIDE_KEYS = {
    "calling_hours.start": "Calling hours start",
    "calling_hours.end": "Calling hours end",
    "calling_hours.days": "Calling days",
    "calling_hours.holiday_region": "Bank holidays",
    "journey.routine": "Routine cadence",
    "journey.urgent": "Urgent cadence",
    "journey.two_week_wait": "Two-week-wait cadence",
    "pacing.max_calls_in_flight": "Most calls in flight",
    "pacing.max_calls_per_second": "Most calls started per second",
    "pacing.abandoned_rate_cap": "Abandoned-call rate cap",
    "pacing.redial_lockout_hours": "No-redial time after an abandoned call (hours)",
    "pacing.hold_wait_seconds": "Longest wait for the booking team (seconds)",
    "caller_ids.caller_id": "Caller ID",
    "caller_ids.sms_sender": "SMS sender",
    "messages.service_name": "Service name",
    "messages.booking_number": "Booking number",
    "messages.opening_hours": "Opening hours (written)",
    "messages.opening_hours_spoken": "Opening hours (spoken)",
}
# Automated calls and texts never start before 08:00 or end after 21:00 local time, however
# the window is set: the hours people accept unsolicited calls in.
EARLIEST_CALLING_START = time(8, 0)
LATEST_CALLING_END = time(21, 0)
_CADENCES = {
    "journey.routine": "routine",
    "journey.urgent": "urgent",
    "journey.two_week_wait": "two_week_wait",
}
_WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


class SettingError(ValueError):
    """A value for a setting that cannot be used; ``key`` names it, the message says why."""

    def __init__(self, key: str, message: str) -> None:
        super().__init__(message)
        self.key = key


def parse_override(key: str, raw: object, *, production: bool) -> Any:
    """The canonical JSON value of setting ``key`` from ``raw`` (a form's text or a stored
    value), checked alone; ``SettingError`` saying why not."""
    label = OVERRIDE_KEYS.get(key)
    if label is None:
        raise SettingError(key, f"{key[:80]!r} is not a setting an admin may change")
    try:
        return _parse_override(key, label, raw, production=production)
    except SettingError:
        raise
    except ValueError as error:
        raise SettingError(key, str(error)) from None


def _parse_override(key: str, label: str, raw: object, *, production: bool) -> Any:
    parse = _PARSERS.get(key) or _PARSERS[key.split(".", 1)[0]]
    return parse(key, label, raw, production)


def _calling_time(key: str, label: str, raw: object, production: bool) -> str:
    moment = _clock_time(raw, label)
    if not EARLIEST_CALLING_START <= moment <= LATEST_CALLING_END:
        raise ValueError(f"{label} must be between 08:00 and 21:00, got {moment:%H:%M}")
    return f"{moment:%H:%M}"


def _holiday_region(key: str, label: str, raw: object, production: bool) -> str:
    if not isinstance(raw, str) or raw not in HOLIDAY_REGIONS:
        raise ValueError(f"{label} must be one of {', '.join(HOLIDAY_REGIONS)}")
    return raw


def _cadence_text(key: str, label: str, raw: object, production: bool) -> str:
    try:
        return format_cadence(parse_cadence(_text(raw, label)))
    except CadenceError as error:
        raise ValueError(f"{label}: {error}") from None


def _pacing(key: str, label: str, raw: object, production: bool) -> int | float:
    if key == "pacing.abandoned_rate_cap":
        return abandoned_rate_cap_value(raw, label, production=production)
    if key == "pacing.redial_lockout_hours":
        lockout = redial_lockout_value(raw, label, production=production)
        return int(lockout.total_seconds()) // 3600
    return positive_int(raw, label)


def _phone(key: str, label: str, raw: object, production: bool) -> str:
    try:
        phone = normalise_phone(_text(raw, label), allow_fictional=not production)
    except InvalidPhoneNumber as error:
        raise ValueError(f"{label} {error.reason}") from None
    # The booking number is shown to patients as written in the UK; caller ids go to Twilio.
    return format_national(phone.e164) if key == "messages.booking_number" else phone.e164


def _public_text(key: str, label: str, raw: object, production: bool) -> str:
    try:
        return check_text_value(key.split(".", 1)[1], _text(raw, label))
    except PublicTextError as error:
        raise ValueError(f"{label} {error}") from None


def _weekdays(key: str, label: str, raw: object, production: bool) -> list[int]:
    return _days(raw, label)


_Parser = Callable[[str, str, object, bool], Any]
# By key, else by the key's group.
_PARSERS: dict[str, _Parser] = {
    "calling_hours.start": _calling_time,
    "calling_hours.end": _calling_time,
    "calling_hours.days": _weekdays,
    "calling_hours.holiday_region": _holiday_region,
    "journey": _cadence_text,
    "pacing": _pacing,
    "caller_ids": _phone,
    "messages.booking_number": _phone,
    "messages": _public_text,
}


def _text(raw: object, label: str) -> str:
    if not isinstance(raw, str):
        raise ValueError(f"{label} must be text")
    return raw


def _clock_time(raw: object, label: str) -> time:
    text = _text(raw, label).strip()
    try:
        return time.fromisoformat(text if len(text) != 4 else "0" + text).replace(second=0)
    except ValueError:
        raise ValueError(f"{label} must be a time such as 08:00, got {text[:10]!r}") from None


def _days(raw: object, label: str) -> list[int]:
    if not isinstance(raw, list) or not raw:
        raise ValueError(f"{label}: choose at least one day")
    try:
        days = sorted({int(day) for day in raw})
    except (TypeError, ValueError):
        raise ValueError(f"{label} must be days of the week") from None
    if not set(days) <= set(range(7)):
        raise ValueError(f"{label} must be days of the week")
    return days


def apply_overrides(config: EngineConfig, overrides: Mapping[str, object]) -> EngineConfig:
    """``config`` with an admin's stored settings in place of the environment's: every value
    checked as ``parse_override`` does, then together (the window starts before it ends, the
    texts still fit two segments); ``SettingError`` naming the first value that cannot be used.
    No overrides: ``config`` itself."""
    if not overrides:
        return config
    values = {
        key: parse_override(key, raw, production=config.production)
        for key, raw in overrides.items()
    }
    window = _window(config.window, values)
    policy = replace(
        config.policy,
        **{field: _cadence(values[key]) for key, field in _CADENCES.items() if key in values},
    )
    caller_id = values.get("caller_ids.caller_id", config.caller_id)
    # As from the environment: texts go from the caller id unless a sender of their own is set.
    follows_caller = config.sms_sender == config.caller_id
    sms_sender = values.get(
        "caller_ids.sms_sender", caller_id if follows_caller else config.sms_sender
    )
    return replace(
        config,
        window=window,
        policy=policy,
        caller_id=caller_id,
        sms_sender=sms_sender,
        public_context=_public_context(config, values, caller_id),
        max_calls_in_flight=values.get("pacing.max_calls_in_flight", config.max_calls_in_flight),
        max_calls_per_second=values.get("pacing.max_calls_per_second", config.max_calls_per_second),
        abandoned_rate_cap=values.get("pacing.abandoned_rate_cap", config.abandoned_rate_cap),
        redial_lockout=timedelta(hours=values["pacing.redial_lockout_hours"])
        if "pacing.redial_lockout_hours" in values
        else config.redial_lockout,
        hold_wait=timedelta(seconds=values["pacing.hold_wait_seconds"])
        if "pacing.hold_wait_seconds" in values
        else config.hold_wait,
    )


def _window(window: CallingWindow, values: Mapping[str, Any]) -> CallingWindow:
    start = time.fromisoformat(values.get("calling_hours.start", f"{window.start:%H:%M}"))
    end = time.fromisoformat(values.get("calling_hours.end", f"{window.end:%H:%M}"))
    if end <= start:
        key = "calling_hours.end" if "calling_hours.end" in values else "calling_hours.start"
        raise SettingError(
            key,
            f"Calling hours must end after they start (start {start:%H:%M}, end {end:%H:%M})",
        )
    days = values.get("calling_hours.days")
    return replace(
        window,
        start=start,
        end=end,
        days=window.days if days is None else frozenset(days),
        holiday_region=values.get("calling_hours.holiday_region", window.holiday_region),
    )


def _cadence(text: str) -> tuple[Step, ...]:
    return parse_cadence(text)


def _public_context(
    config: EngineConfig, values: Mapping[str, Any], caller_id: str
) -> PublicContext:
    base = config.public_context
    booking = values.get("messages.booking_number")
    if booking is None:
        # As from the environment: patients call back the number we call from.
        follows_caller = base.booking_number == format_national(config.caller_id)
        booking = format_national(caller_id) if follows_caller else base.booking_number
    public = PublicContext(
        service_name=values.get("messages.service_name", base.service_name),
        booking_number=booking,
        booking_number_spoken=spoken_number(booking),
        opening_hours=values.get("messages.opening_hours", base.opening_hours),
        opening_hours_spoken=values.get("messages.opening_hours_spoken", base.opening_hours_spoken),
    )
    if public != base:
        blame = next(
            (key for key in values if key.startswith("messages.")), "messages.service_name"
        )
        try:
            check_messages(public, PREVIEW_DATE, blame=blame)
        except PublicTextError as error:
            raise SettingError(error.field, f"{OVERRIDE_KEYS[error.field]} {error}") from None
    return public


def current_values(config: EngineConfig) -> dict[str, Any]:
    """Every setting an admin may change, as ``config`` has it, in ``parse_override``'s form."""
    policy, window, public = config.policy, config.window, config.public_context

    return {
        "calling_hours.start": f"{window.start:%H:%M}",
        "calling_hours.end": f"{window.end:%H:%M}",
        "calling_hours.days": sorted(window.days),
        "calling_hours.holiday_region": window.holiday_region,
        "journey.routine": format_cadence(policy.routine),
        "journey.urgent": format_cadence(policy.urgent),
        "journey.two_week_wait": format_cadence(policy.two_week_wait),
        "pacing.max_calls_in_flight": config.max_calls_in_flight,
        "pacing.max_calls_per_second": config.max_calls_per_second,
        "pacing.abandoned_rate_cap": config.abandoned_rate_cap,
        "pacing.redial_lockout_hours": int(config.redial_lockout.total_seconds()) // 3600,
        "pacing.hold_wait_seconds": int(config.hold_wait.total_seconds()),
        "caller_ids.caller_id": config.caller_id,
        "caller_ids.sms_sender": config.sms_sender,
        "messages.service_name": public.service_name,
        "messages.booking_number": public.booking_number,
        "messages.opening_hours": public.opening_hours,
        "messages.opening_hours_spoken": public.opening_hours_spoken,
    }


def weekday_names() -> tuple[str, ...]:
    """Monday to Sunday, by their numbers in ``calling_hours.days``."""
    return _WEEKDAYS
