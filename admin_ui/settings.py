"""Admins' settings: calling hours, journey cadences, pacing limits, caller IDs, and the
per-centre words of every message with a preview for a synthetic patient.

Values are kept in the database over the environment's defaults (``rmc_outreach.settings_store``)
and reach the workers within seconds. A save is checked whole before anything is written: one
field that cannot be used and nothing is saved, with the field and the reason shown. Every change
is audited with the old and new values.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, redirect, render_template, request, url_for
from werkzeug.datastructures import MultiDict
from werkzeug.wrappers import Response as BaseResponse

from admin_ui.access import current_identity
from admin_ui.context import base_engine_config, current_engine_config
from rmc_outreach import clock
from rmc_outreach.calendar import HOLIDAY_REGIONS
from rmc_outreach.db import session_scope
from rmc_outreach.engine_config import EngineConfig
from rmc_outreach.messages import MAX_SMS_SEGMENTS, PublicContext, spoken_number
from rmc_outreach.phones import format_national
from rmc_outreach.settings_store.cadence import MAX_STEPS
from rmc_outreach.settings_store.live import live_settings
from rmc_outreach.settings_store.overrides import (
    EARLIEST_CALLING_START,
    LATEST_CALLING_END,
    OVERRIDE_KEYS,
    SettingError,
    apply_overrides,
    current_values,
    parse_override,
    weekday_names,
)
from rmc_outreach.settings_store.public_text import TEXT_LIMITS, render_all, sample_letter
from rmc_outreach.settings_store.store import load_overrides, save_settings

blueprint = Blueprint("settings", __name__)

# (section id, heading, keys) of the engine settings page, in order.
ENGINE_SECTIONS = (
    (
        "calling-hours",
        "Calling hours",
        (
            "calling_hours.start",
            "calling_hours.end",
            "calling_hours.days",
            "calling_hours.holiday_region",
        ),
    ),
    ("journey", "Journey cadence", ("journey.routine", "journey.urgent", "journey.two_week_wait")),
    (
        "pacing",
        "Pacing limits",
        (
            "pacing.max_calls_in_flight",
            "pacing.max_calls_per_second",
            "pacing.abandoned_rate_cap",
            "pacing.redial_lockout_hours",
            "pacing.hold_wait_seconds",
        ),
    ),
    ("caller-ids", "Caller IDs", ("caller_ids.caller_id", "caller_ids.sms_sender")),
)
ENGINE_KEYS = tuple(key for _, _, keys in ENGINE_SECTIONS for key in keys)
MESSAGE_KEYS = (
    "messages.service_name",
    "messages.booking_number",
    "messages.opening_hours",
    "messages.opening_hours_spoken",
)
REGION_LABELS = {
    "england-and-wales": "England and Wales",
    "scotland": "Scotland",
    "northern-ireland": "Northern Ireland",
}
PHONE_KEYS = frozenset({"caller_ids.caller_id", "caller_ids.sms_sender"})
HINTS = {
    "calling_hours.start": f"24-hour time, {EARLIEST_CALLING_START:%H:%M} or later.",
    "calling_hours.end": f"24-hour time, {LATEST_CALLING_END:%H:%M} at the latest.",
    "calling_hours.holiday_region": "No calls or texts on this region's bank holidays.",
    "journey.routine": (
        f"One step a line (at most {MAX_STEPS}): call, sms or letter, then optionally +Nd "
        "(working days after the step before), +Nm or +Nh (least gap) and a time of day "
        "(morning, midday, afternoon, late). A letter can only be the last step."
    ),
    "pacing.max_calls_in_flight": "Calls placed but not finished, at most.",
    "pacing.max_calls_per_second": "Your Twilio account's calls-per-second rate.",
    "pacing.abandoned_rate_cap": (
        "A fraction of live-answered calls a day: 0.03 is 3%. Production refuses more than "
        "Ofcom's 0.03."
    ),
    "pacing.redial_lockout_hours": "Production refuses less than Ofcom's 72 hours.",
    "pacing.hold_wait_seconds": (
        "How long a patient who asked for the booking team waits before the information message."
    ),
    "caller_ids.caller_id": (
        "A UK number your Twilio account may call from, answered by the booking team: patients "
        "call it back."
    ),
    "caller_ids.sms_sender": "A UK number your Twilio account may text from (replies come to it).",
    "messages.service_name": "Who is calling, in every call, voicemail, text and letter.",
    "messages.booking_number": "The number patients are told to call.",
    "messages.opening_hours": "As written in texts and letters, e.g. Mon-Fri 8am-6pm.",
    "messages.opening_hours_spoken": "As read out in calls and voicemails.",
}


def form_text(key: str, value: Any) -> Any:
    """A setting's value as its form field shows it (a list of strings for the days)."""
    if key == "calling_hours.days":
        return [str(day) for day in value]
    if key in PHONE_KEYS:
        return format_national(value)
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def _same_text(left: Any, right: Any) -> bool:
    if isinstance(left, list) or isinstance(right, list):
        return sorted(map(str, left)) == sorted(map(str, right))
    return " ".join(str(left).split()) == " ".join(str(right).split())


def wanted_from_form(
    form: MultiDict[str, str], keys: tuple[str, ...], defaults: dict[str, Any], *, production: bool
) -> dict[str, Any]:
    """The canonical value of every setting of ``keys`` from a submitted form; a value shown as
    the environment's default is taken as it is (it is not checked again by stricter rules).
    ``SettingError`` naming the first field that cannot be used."""
    wanted: dict[str, Any] = {}
    for key in keys:
        raw: Any = form.getlist(key) if key == "calling_hours.days" else form.get(key)
        if raw is None:
            raise SettingError(key, f"{OVERRIDE_KEYS[key]} is missing from the form")
        if _same_text(raw, form_text(key, defaults[key])):
            wanted[key] = defaults[key]
        else:
            wanted[key] = parse_override(key, raw, production=production)
    return wanted


def _save(keys: tuple[str, ...]) -> tuple[dict[str, Any] | None, SettingError | None]:
    """Save the submitted values of ``keys``; (changes, None), or (None, the error)."""
    user = current_identity()
    if user is None:  # the access rule has already refused anonymous requests
        abort(403)
    base = base_engine_config()
    try:
        wanted = wanted_from_form(
            request.form, keys, current_values(base), production=base.production
        )
        with session_scope() as session:
            changed = save_settings(
                session, wanted, base=base, actor_label=user.actor_label, actor_user_id=user.id
            )
    except SettingError as error:
        return None, error
    live_settings.invalidate()
    return changed, None


def _field_values(keys: tuple[str, ...], config: EngineConfig) -> dict[str, Any]:
    values = current_values(config)
    return {key: form_text(key, values[key]) for key in keys}


def _engine_page(values: dict[str, Any], error: SettingError | None, saved: bool) -> str:
    base = base_engine_config()
    defaults = _field_values(ENGINE_KEYS, base)
    return render_template(
        "settings.html",
        sections=ENGINE_SECTIONS,
        labels=OVERRIDE_KEYS,
        hints=HINTS,
        values=values,
        defaults=defaults,
        weekdays=list(enumerate(weekday_names())),
        holiday_regions=[(region, REGION_LABELS.get(region, region)) for region in HOLIDAY_REGIONS],
        production=base.production,
        error=error,
        saved=saved,
    )


@blueprint.get("/admin/settings")
def settings_page() -> str:
    """The engine's settings in force, in a form; each shows the environment's default."""
    values = _field_values(ENGINE_KEYS, current_engine_config())
    return _engine_page(values, None, request.args.get("saved") == "1")


@blueprint.post("/admin/settings")
def save_settings_form() -> tuple[str, int] | BaseResponse:
    """Store the submitted settings (all checked first; audited); the form again with the field
    and the reason when one cannot be used (nothing is stored then)."""
    _, error = _save(ENGINE_KEYS)
    if error is not None:
        values = {
            key: request.form.getlist(key)
            if key == "calling_hours.days"
            else request.form.get(key, "")
            for key in ENGINE_KEYS
        }
        return _engine_page(values, error, False), 422
    return redirect(url_for("settings.settings_page", saved=1), 303)


def _proposed_context(values: dict[str, str], base: EngineConfig) -> tuple[PublicContext, str]:
    """The words the submitted values would give (each value checked alone), and the first
    problem found when they are checked together ('' when none)."""
    defaults = current_values(base)
    wanted = wanted_from_form(MultiDict(values), MESSAGE_KEYS, defaults, production=base.production)
    public = PublicContext(
        service_name=wanted["messages.service_name"],
        booking_number=wanted["messages.booking_number"],
        booking_number_spoken=spoken_number(wanted["messages.booking_number"]),
        opening_hours=wanted["messages.opening_hours"],
        opening_hours_spoken=wanted["messages.opening_hours_spoken"],
    )
    with session_scope(read_only=True) as session:
        stored = load_overrides(session)
    try:
        apply_overrides(base, {**stored, **wanted})
    except SettingError as error:
        return public, str(error)
    return public, ""


def _messages_page(
    values: dict[str, str], error: SettingError | None, saved: bool, preview: bool
) -> tuple[str, bool]:
    """The page, and whether the values shown cannot be saved."""
    base = base_engine_config()
    context = current_engine_config().public_context
    problem = ""
    if preview and error is None:
        try:
            context, problem = _proposed_context(values, base)
        except SettingError as found:
            error = found
    today = base.window.local(clock.now()).date()
    page = render_template(
        "settings_messages.html",
        keys=MESSAGE_KEYS,
        labels=OVERRIDE_KEYS,
        hints=HINTS,
        limits={f"messages.{name}": limit for name, limit in TEXT_LIMITS.items()},
        values=values,
        defaults=_field_values(MESSAGE_KEYS, base),
        messages=render_all(context),
        letter=sample_letter(context, today),
        max_segments=MAX_SMS_SEGMENTS,
        error=error,
        problem=problem,
        saved=saved,
        preview=preview,
    )
    return page, error is not None or bool(problem)


@blueprint.get("/admin/settings/messages")
def messages_page() -> str:
    """The per-centre words, and every text, voice prompt and the letter rendered with them for
    a synthetic patient (texts with their encoding and segments)."""
    values = _field_values(MESSAGE_KEYS, current_engine_config())
    page, _ = _messages_page(values, None, request.args.get("saved") == "1", False)
    return page


@blueprint.post("/admin/settings/messages/preview")
def preview_messages() -> tuple[str, int] | str:
    """Every message rendered with the submitted values, checked as a save would check them;
    nothing is stored (422 with the reason when they could not be saved)."""
    values = {key: request.form.get(key, "") for key in MESSAGE_KEYS}
    page, refused = _messages_page(values, None, False, True)
    return (page, 422) if refused else page


@blueprint.post("/admin/settings/messages")
def save_messages_form() -> tuple[str, int] | BaseResponse:
    """Store the per-centre words after every message has been checked with them (texts within
    two segments, no clinical words; audited); the form again with the reason otherwise."""
    _, error = _save(MESSAGE_KEYS)
    if error is not None:
        values = {key: request.form.get(key, "") for key in MESSAGE_KEYS}
        page, _ = _messages_page(values, error, False, False)
        return page, 422
    return redirect(url_for("settings.messages_page", saved=1), 303)
