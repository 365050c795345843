"""The handler console: my availability, the patient I am talking to, my wrap-up and work list.

Pages (HTML, work without JavaScript: forms post and redirect back) and a JSON API that the
page's console.js polls every 2 s and that simulated handlers use. Every POST is answered by the
same view for JSON (``application/json`` body → JSON answer) and for forms (→ 303 back to the
console, or the console again with an error summary).

Who may reach which console is decided where the blueprint is registered (``register_blueprints``,
rule ``own_console_or_look``): a handler their own, supervisors and admins any, to look only. A
look at another handler's console is audited with the looker as actor; CSRF tokens and the
same-origin check are applied to every POST by ``admin_ui.access``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from functools import cache
from typing import Any

from flask import (
    Blueprint,
    Flask,
    Response,
    abort,
    current_app,
    flash,
    jsonify,
    redirect,
    render_template,
    request,
    url_for,
)
from werkzeug.wrappers import Response as BaseResponse

from admin_ui.access import current_identity, forbidden
from admin_ui.context import current_engine_config
from rmc_outreach import clock
from rmc_outreach.config import Settings
from rmc_outreach.console_view import (
    SELF_SERVICE_STATES,
    ConsoleSnapshot,
    choose_state,
    console_snapshot,
    handlers_to_pick,
    record_console_look,
    record_screen_pop_view,
)
from rmc_outreach.console_view.work import claim_callback, release_callback
from rmc_outreach.db import session_scope
from rmc_outreach.engine_config import EngineConfig
from rmc_outreach.handlers import HandlerNotFound, InvalidHandlerTransition
from rmc_outreach.handoff_outcomes import (
    HANDOFF_OUTCOMES,
    OUTCOME_LABELS,
    InvalidOutcome,
    Outcome,
    OutcomeConflict,
    OutcomeError,
    WorkNotFound,
    complete_callback,
    handler_actor,
    parse_id,
    parse_outcome,
    record_handoff_outcome,
)
from rmc_outreach.live_view.floor import HANDLER_STATE_LABELS
from rmc_outreach.models import HandlerState, Role
from rmc_outreach.telephony.base import TelephonyProvider

log = logging.getLogger(__name__)

blueprint = Blueprint("console", __name__)

PROVIDER_EXTENSION = "rmc_outreach.telephony_provider"
POLL_SECONDS = 2
NOSCRIPT_REFRESH_SECONDS = 5
# Sent by console.js when it fetches the page to redraw a part of it: a poll, not a fresh look.
REFRESH_HEADER = "X-Console-Refresh"
CONNECT_HANDLERS = "connect-handlers"  # workers.queues.TaskNames (the ACD task)
STATE_BUTTONS = {
    HandlerState.AVAILABLE: "Available: put calls through to me",
    HandlerState.AWAY: "Away: no calls for now",
    HandlerState.OFFLINE: "Go offline: stop taking calls",
}

ProviderSource = Callable[[], TelephonyProvider]


def install(app: Flask) -> None:
    """Give the app what the console needs: how to reach the telephony provider (built on first
    use, as a worker's runtime builds it; tests install a fake at the network edge)."""
    settings: Settings = app.extensions["rmc_outreach.settings"]
    app.extensions.setdefault(PROVIDER_EXTENSION, _twilio_provider(settings))


def _twilio_provider(settings: Settings) -> ProviderSource:
    @cache
    def build() -> TelephonyProvider:
        from rmc_outreach.telephony.twilio_provider import TwilioProvider

        return TwilioProvider(settings)

    return build


def _engine_config() -> EngineConfig:
    # The webhooks' config when installed (tests install one there), else the settings' own.
    from admin_ui.webhooks import ENGINE_CONFIG_EXTENSION, webhook_config

    if current_app.extensions.get(ENGINE_CONFIG_EXTENSION) is not None:
        return webhook_config()
    return current_engine_config()


def _enqueue_connect_handlers() -> None:
    """A handler became available: ask the ACD to pair them now (beat also does, every 2 s)."""
    from admin_ui.webhooks import ENQUEUE_EXTENSION

    enqueue = current_app.extensions.get(ENQUEUE_EXTENSION)
    if enqueue is None:
        return
    try:
        enqueue(CONNECT_HANDLERS, [])
    except Exception:  # beat's safety net pairs them within 2 s
        log.exception("could not enqueue %s", CONNECT_HANDLERS)


FORM_MIMETYPES = ("application/x-www-form-urlencoded", "multipart/form-data")


def _wants_json() -> bool:
    """A browser form (no JavaScript) gets pages and redirects; anything else gets JSON."""
    return request.mimetype not in FORM_MIMETYPES


def _input() -> Mapping[str, Any]:
    if _wants_json():
        data = request.get_json(silent=True)
        if not isinstance(data, dict):
            raise InvalidOutcome("body", "the body must be a JSON object")
        return data
    return request.form


def _back(handler_id: int, message: str) -> BaseResponse:
    flash(message)
    return redirect(url_for("console.console_page", handler_id=handler_id), 303)


def _refused(
    handler_id: int,
    status: int,
    message: str,
    field: str | None = None,
    form: Mapping[str, Any] | None = None,
) -> Response:
    """A refusal: JSON {"error", "field"} or the console again with an error summary."""
    if _wants_json():
        body: dict[str, Any] = {"error": message}
        if field is not None:
            body["field"] = field
        response = jsonify(body)
        response.status_code = status
        return response
    if status == 404:
        abort(404)
    page = _render_console(handler_id, errors=[(field, message)], form=form or {})
    return Response(page, status=status)


def _error_response(handler_id: int, error: Exception) -> Response:
    form = None if _wants_json() else request.form
    if isinstance(error, InvalidOutcome):
        return _refused(handler_id, 422, error.message, error.field, form)
    if isinstance(error, InvalidHandlerTransition):
        return _refused(handler_id, 409, str(error), "state", form)
    if isinstance(error, OutcomeConflict):
        return _refused(handler_id, 409, str(error), None, form)
    if isinstance(error, HandlerNotFound | WorkNotFound):
        return _refused(handler_id, 404, str(error))
    raise error


def _read_snapshot(handler_id: int, *, every_time: bool) -> ConsoleSnapshot:
    """The console now; the look at any screen-pop is audited (ids only), by whoever looks: the
    handler, or a supervisor or admin looking at another handler's console (whose page loads
    are audited too, patient on the line or not)."""
    moment = clock.now()
    viewer = current_identity()
    onlooker = viewer if viewer is not None and viewer.handler_id != handler_id else None
    with session_scope(read_only=True) as session:
        snapshot = console_snapshot(session, handler_id, moment)
    if onlooker is not None and every_time:
        with session_scope() as session:
            record_console_look(session, handler_id, onlooker.id)
    if snapshot.connected or snapshot.wrap_up:
        with session_scope() as session:
            record_screen_pop_view(
                session,
                handler_id,
                snapshot,
                every_time=every_time,
                actor_label=onlooker.actor_label if onlooker else None,
                actor_user_id=onlooker.id if onlooker else viewer.id if viewer else None,
            )
    return snapshot


def _render_console(
    handler_id: int,
    *,
    errors: list[tuple[str | None, str]] | None = None,
    form: Mapping[str, Any] | None = None,
) -> str:
    every_time = request.headers.get(REFRESH_HEADER) != "1"
    try:
        snapshot = _read_snapshot(handler_id, every_time=every_time)
    except HandlerNotFound:
        abort(404)
    config = _engine_config()
    context: dict[str, Any] = {
        "console": snapshot,
        "errors": errors or [],
        "error_fields": {field for field, _ in errors or [] if field},
        "form": form or {},
        "handoff_outcomes": HANDOFF_OUTCOMES,
        "callback_outcomes": tuple(Outcome),
        "outcome_labels": OUTCOME_LABELS,
        "state_buttons": STATE_BUTTONS,
        "handler_state_labels": HANDLER_STATE_LABELS,
        "window": config.window,
        "today": config.window.local(snapshot.generated_at).date(),
        "poll_seconds": POLL_SECONDS,
        "noscript_refresh_seconds": NOSCRIPT_REFRESH_SECONDS,
        "timezone": config.window.zone,
        "looking_only": _looking_only(handler_id),
    }
    return render_template("console.html", **context)


def _looking_only(handler_id: int) -> bool:
    viewer = current_identity()
    return viewer is None or viewer.handler_id != handler_id


@blueprint.get("/console")
def console_picker() -> BaseResponse | str:
    """A handler goes to their own console; supervisors and admins choose whose to look at."""
    viewer = current_identity()
    if viewer is None or viewer.role is Role.HANDLER:
        if viewer is not None and viewer.handler_id is not None:
            return redirect(url_for("console.console_page", handler_id=viewer.handler_id), 303)
        return forbidden("Your account is not linked to a handler record yet: ask an admin.")
    with session_scope(read_only=True) as session:
        handlers = [
            (handler.id, handler.display_name, HANDLER_STATE_LABELS[handler.state], handler.state)
            for handler in handlers_to_pick(session)
        ]
    return render_template("console_picker.html", handlers=handlers)


@blueprint.get("/console/<int:handler_id>")
def console_page(handler_id: int) -> str:
    """One handler's console: availability, screen-pop, wrap-up outcome, work list."""
    return _render_console(handler_id)


@blueprint.get("/api/console/<int:handler_id>")
def console_json(handler_id: int) -> Response:
    """The console as JSON (masked NHS number and phones; the name for the handler only)."""
    try:
        snapshot = _read_snapshot(handler_id, every_time=False)
    except HandlerNotFound as error:
        return _refused(handler_id, 404, str(error))
    return jsonify(snapshot.as_dict())


@blueprint.post("/api/console/<int:handler_id>/state")
def change_my_state(handler_id: int) -> BaseResponse:
    """Available, away or offline; 409 when the state machine refuses (e.g. on a call)."""
    try:
        raw = str(_input().get("state") or "").strip()
        try:
            state = HandlerState(raw)
        except ValueError:
            state = None
        if state not in SELF_SERVICE_STATES:
            choices = ", ".join(choice.value for choice in SELF_SERVICE_STATES)
            raise InvalidOutcome("state", f"state must be one of: {choices}")
        assert state is not None  # noqa: S101 - narrowed by the check above
        with session_scope() as session:
            choose_state(session, handler_id, state)
    except (OutcomeError, InvalidHandlerTransition, HandlerNotFound) as error:
        return _error_response(handler_id, error)
    if state is HandlerState.AVAILABLE:
        _enqueue_connect_handlers()
    if _wants_json():
        return jsonify({"state": state.value})
    return _back(handler_id, f"You are now {HANDLER_STATE_LABELS[state].lower()}.")


@blueprint.post("/api/console/<int:handler_id>/outcome")
def record_outcome(handler_id: int) -> BaseResponse:
    """The outcome of the call in wrap-up: drives the journey, makes the handler available."""
    config = _engine_config()
    try:
        data = _input()
        handoff_id = parse_id(data.get("handoff_id"), "handoff_id")
        outcome = parse_outcome(data, config.window)
        with session_scope() as session:
            effect = record_handoff_outcome(session, handler_id, handoff_id, outcome, config.window)
    except (OutcomeError, HandlerNotFound) as error:
        return _error_response(handler_id, error)
    _enqueue_connect_handlers()
    if _wants_json():
        return jsonify(effect.as_dict())
    return _back(handler_id, f"Outcome recorded: {OUTCOME_LABELS[outcome.outcome]}.")


@blueprint.post("/api/console/<int:handler_id>/work/<int:callback_id>/claim")
def claim_work(handler_id: int, callback_id: int) -> BaseResponse:
    """Claim a callback request or SMS reply: 409 when another handler has it."""
    try:
        with session_scope() as session:
            claim_callback(session, handler_id, callback_id)
    except (OutcomeError, HandlerNotFound) as error:
        return _error_response(handler_id, error)
    if _wants_json():
        return jsonify({"id": callback_id, "claimed_by_me": True})
    return _back(handler_id, "Claimed: it is yours to work.")


@blueprint.post("/api/console/<int:handler_id>/work/<int:callback_id>/release")
def release_work(handler_id: int, callback_id: int) -> BaseResponse:
    """Give a claimed request back to the list."""
    try:
        with session_scope() as session:
            release_callback(session, handler_id, callback_id)
    except (OutcomeError, HandlerNotFound) as error:
        return _error_response(handler_id, error)
    if _wants_json():
        return jsonify({"id": callback_id, "claimed_by_me": False})
    return _back(handler_id, "Released: back on the list for anyone.")


@blueprint.post("/api/console/<int:handler_id>/work/<int:callback_id>/complete")
def complete_work(handler_id: int, callback_id: int) -> BaseResponse:
    """Record the outcome of a request worked outside a console call (claimed first)."""
    config = _engine_config()
    try:
        outcome = parse_outcome(_input(), config.window, allowed=tuple(Outcome))
        with session_scope() as session:
            effect = complete_callback(session, handler_id, callback_id, outcome, config.window)
    except (OutcomeError, HandlerNotFound) as error:
        return _error_response(handler_id, error)
    if _wants_json():
        return jsonify(effect.as_dict())
    return _back(handler_id, f"Outcome recorded: {OUTCOME_LABELS[outcome.outcome]}.")


@blueprint.post("/api/console/<int:handler_id>/work/<int:callback_id>/call")
def call_patient(handler_id: int, callback_id: int) -> BaseResponse:
    """ "Call this patient now": claim the request, then the ACD rings the handler and bridges
    them to the patient (a handler is guaranteed, so the call is never abandoned). 202."""
    try:
        from rmc_outreach import acd
    except ImportError:
        acd = None  # type: ignore[assignment]
    # Looked up by name: the ACD module (helper-built, issue 4) may not offer it yet.
    call_patient_now = getattr(acd, "call_patient_now", None)
    if call_patient_now is None:
        return _refused(
            handler_id,
            501,
            "Calling a patient from the console is not available yet: the call engine "
            "(rmc_outreach.acd.call_patient_now) is not installed.",
        )
    try:
        with session_scope() as session:
            claim_callback(session, handler_id, callback_id)
    except (OutcomeError, HandlerNotFound) as error:
        return _error_response(handler_id, error)
    provider: TelephonyProvider = current_app.extensions[PROVIDER_EXTENSION]()
    try:
        result = call_patient_now(callback_id, handler_id, provider, _engine_config())
    except Exception as error:
        return _call_refused(handler_id, error)
    log.info("%s: call-back %s placed", handler_actor(handler_id), callback_id)
    if _wants_json():
        response = jsonify({"id": callback_id, "result": _jsonable(result)})
        response.status_code = 202
        return response
    return _back(handler_id, "Calling you first, then the patient.")


def _call_refused(handler_id: int, error: Exception) -> BaseResponse:
    """The ACD's answer when it did not ring: a call the provider did not take (recorded by the
    ACD; try again) → 502; a refusal (nothing written) → 409, or 404 for an unknown id; each with
    the ACD's reason code. Anything else is a bug and propagates."""
    from rmc_outreach.acd import errors

    if not isinstance(error, errors.CallPatientRefused):
        raise error
    if isinstance(error, errors.CallNotPlaced):
        status = 502
    else:
        status = 404 if isinstance(error, LookupError) else 409
    if _wants_json():
        response = jsonify({"error": str(error), "code": error.code})
        response.status_code = status
        return response
    return _refused(handler_id, status, f"The patient was not called: {error}")


def _jsonable(value: Any) -> Any:
    if value is None or isinstance(value, str | int | float | bool):
        return value
    as_dict = getattr(value, "as_dict", None)
    return as_dict() if callable(as_dict) else str(value)


@blueprint.app_template_filter("console_time")
def console_time(moment: Any, today: Any = None) -> str:
    """A moment in the centre's time: "14:05" today, else "Tue 16 Jun 14:05"."""
    local = _engine_config().window.local(moment)
    if today is not None and local.date() == today:
        return f"{local:%H:%M}"
    return f"{local:%a} {local.day} {local:%b %H:%M}"
