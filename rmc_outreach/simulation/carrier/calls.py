"""Calls: create, fetch, list and update, and the life of each call from dialling to hang-up.

A created call is ``queued`` until a pool thread takes it. Then, as Twilio does: ``initiated``,
``ringing`` (about a second later), and after the planned ring time ``in-progress`` (answered) or a
final ``busy`` / ``no-answer`` / ``failed``; ``canceled`` if the API ends it before the answer.
Status callbacks go to ``StatusCallback`` for the requested ``StatusCallbackEvent`` values (only
``completed`` when none are given), numbered by ``SequenceNumber`` from 0, with ``Timestamp``, and
``CallDuration`` on the final one. When answered, the ``Url`` is fetched (or the inline ``Twiml``
played) and ``twiml.CallRun`` plays it; with asynchronous AMD the result is posted mid-call, with
synchronous AMD it is waited for and sent as ``AnsweredBy`` with the ``Url`` request.

A call to a handler endpoint (``client:``/``sip:``) is planned by the simulated handlers
(``staff``) instead of the population: it never has AMD, and when it ends the handler wraps up
(after a bridged call) or comes back later (after a call they missed).
"""

from __future__ import annotations

import itertools
import logging
import math
from collections.abc import Iterator
from datetime import datetime

from werkzeug.datastructures import MultiDict

from rmc_outreach import clock
from rmc_outreach.simulation.carrier.population import CallPlan
from rmc_outreach.simulation.carrier.resources import SimCall, attempt_id_from, new_sid
from rmc_outreach.simulation.carrier.rules import bad_request, not_found
from rmc_outreach.simulation.carrier.staff import HandlerLeg, is_handler_endpoint
from rmc_outreach.simulation.carrier.state import Carrier
from rmc_outreach.simulation.carrier.twiml import CallEnded, CallRun, Document, parse_twiml

log = logging.getLogger(__name__)

DEFAULT_RING_TIMEOUT_S = 60
DEFAULT_DETECTION_TIMEOUT_S = 30
DEFAULT_TIME_LIMIT_S = 14400
DIALLING_S = 1.0
EVENT_OF_STATUS = {"initiated": "initiated", "ringing": "ringing", "in-progress": "answered"}


def create_call(carrier: Carrier, account_sid: str, form: MultiDict[str, str]) -> SimCall:
    """Accept a (valid) Create Call request and start its flow on the call pool."""
    now = clock.now()
    call = SimCall(
        sid=new_sid("CA"),
        account_sid=account_sid,
        to=form["To"],
        sender=form["From"],
        form=form.copy(),
        created_at=now,
        attempt_id=attempt_id_from(
            form.get("StatusCallback"), form.get("Url"), form.get("AsyncAmdStatusCallback")
        ),
    )
    with carrier.lock:
        carrier.calls[call.sid] = call
        index = carrier.calls_per_number[call.to]
        carrier.calls_per_number[call.to] += 1
    carrier.call_pool.submit(_run_safely, carrier, call, index)
    return call


def find_call(carrier: Carrier, sid: str) -> SimCall:
    """The call with this SID, or a Twilio 404."""
    with carrier.lock:
        call = carrier.calls.get(sid)
    if call is None:
        raise not_found(f"/Calls/{sid}.json")
    return call


def list_calls(carrier: Carrier, query: MultiDict[str, str]) -> list[SimCall]:
    """Calls matching Twilio's list filters (To, From, Status, StartTime, StartTime>/<), newest
    first.

    A call not yet dialled has no start time; it is matched by its creation time, so a
    reconciliation right after an uncertain create still finds it.
    """

    def moment(name: str) -> datetime | None:
        raw = query.get(name)
        return datetime.fromisoformat(raw.replace("Z", "+00:00")) if raw else None

    after, before, on = moment("StartTime>"), moment("StartTime<"), query.get("StartTime")
    with carrier.lock:
        calls = list(carrier.calls.values())
    selected = []
    for call in calls:
        started = call.start_time or call.created_at
        if query.get("To") and call.to != query["To"]:
            continue
        if query.get("From") and call.sender != query["From"]:
            continue
        if query.get("Status") and call.status != query["Status"]:
            continue
        if after is not None and started < after:
            continue
        if before is not None and started > before:
            continue
        if on and started.date().isoformat() != on[:10]:
            continue
        selected.append(call)
    selected.sort(key=lambda call: call.created_at, reverse=True)
    return selected


def update_call(carrier: Carrier, call: SimCall, form: MultiDict[str, str]) -> SimCall:
    """Apply Update Call: new TwiML or URL for a live call, or end it (Status)."""
    status, twiml, url = form.get("Status"), form.get("Twiml"), form.get("Url")
    if call.final:
        if twiml or url:
            raise bad_request(21220, "Call is not in-progress. Cannot redirect.")
        return call  # ending an ended call changes nothing
    if status == "completed" or (status == "canceled" and call.status != "in-progress"):
        call.control.hang_up()
    elif url:
        call.control.redirect(url, form.get("Method", "POST"))
    elif twiml:
        call.control.replace_twiml(twiml)
    with carrier.lock:
        call.updated_at = clock.now()
    return call


class _Callbacks:
    """Status callbacks of one call, numbered in order."""

    def __init__(self, carrier: Carrier, call: SimCall) -> None:
        self.carrier, self.call = carrier, call
        events = call.form.getlist("StatusCallbackEvent")
        self.events = set(events) if events else {"completed"}
        self.sequence: Iterator[int] = itertools.count()

    def send(self, status: str, extra: dict[str, str] | None = None) -> None:
        url = self.call.form.get("StatusCallback")
        event = EVENT_OF_STATUS.get(status, "completed")
        if not url or event not in self.events:
            return
        params = self.carrier.call_params(self.call)
        params.update(
            CallStatus=status,
            SequenceNumber=str(next(self.sequence)),
            Timestamp=self.carrier.timestamp(),
            CallbackSource="call-progress-events",
        )
        params.update(extra or {})
        method = self.call.form.get("StatusCallbackMethod", "POST")
        self.carrier.webhooks.send(url, params, purpose=f"call_status:{event}", method=method)


def _set_status(carrier: Carrier, call: SimCall, status: str) -> None:
    with carrier.lock:
        call.status = status
        call.updated_at = clock.now()
        if status == "in-progress" and call.start_time is None:
            call.start_time = call.updated_at


def _run_safely(carrier: Carrier, call: SimCall, index: int) -> None:
    with carrier.lock:
        carrier.active_calls += 1
    try:
        _run(carrier, call, index)
    except Exception:
        log.exception("call flow %s crashed", call.sid)
        _finish(carrier, call, "failed", None, None, ended_by="simulator_error")
    finally:
        with carrier.lock:
            carrier.active_calls -= 1


def _ring(
    carrier: Carrier, call: SimCall, seconds: float, pending: str | None = None
) -> tuple[bool, str | None]:
    """Wait while the phone rings: (cancelled?, TwiML set meanwhile, or ``pending``)."""
    remaining = seconds
    while True:
        remaining -= carrier.sim_time.wait(remaining, call.control.changed)
        hang_up, twiml, _redirect = call.control.take()
        if hang_up or carrier.stopping.is_set():
            return True, pending
        pending = twiml or pending
        if remaining <= 1e-9:
            return False, pending


def _run(carrier: Carrier, call: SimCall, index: int) -> None:
    callbacks = _Callbacks(carrier, call)
    with carrier.lock:
        call.start_time = clock.now()
    cancelled, pending_twiml = _ring(carrier, call, 0.0)  # ended or changed while queued?
    if cancelled:
        _finish(carrier, call, "canceled", callbacks, None, ended_by="api_hang_up")
        return
    form = call.form
    ring_timeout = int(form.get("Timeout", DEFAULT_RING_TIMEOUT_S))
    leg: HandlerLeg | None = None
    if is_handler_endpoint(call.to):
        plan, leg = carrier.staff.plan_leg(call.to, ring_timeout)
    else:
        plan = carrier.population.plan_call(
            call.to,
            index,
            carrier.local_now(),
            ring_timeout_s=ring_timeout,
            detection_timeout_s=int(
                form.get("MachineDetectionTimeout", DEFAULT_DETECTION_TIMEOUT_S)
            ),
        )
    callbacks.send("initiated")
    if plan.outcome != "failed":
        cancelled, pending_twiml = _ring(carrier, call, DIALLING_S, pending_twiml)
        if cancelled:
            _finish(carrier, call, "canceled", callbacks, plan, ended_by="api_hang_up", leg=leg)
            return
        _set_status(carrier, call, "ringing")
        callbacks.send("ringing")
    cancelled, pending_twiml = _ring(carrier, call, plan.ring_s, pending_twiml)
    if cancelled:
        _finish(carrier, call, "canceled", callbacks, plan, ended_by="api_hang_up", leg=leg)
        return
    if plan.outcome in ("busy", "no-answer", "failed"):
        _finish(carrier, call, plan.outcome, callbacks, plan, ended_by="network", leg=leg)
        return
    if leg is not None:
        carrier.staff.leg_answered(call.sid, leg)
    _set_status(carrier, call, "in-progress")
    callbacks.send("in-progress")
    time_limit = float(form.get("TimeLimit", DEFAULT_TIME_LIMIT_S))
    run = CallRun(carrier, call, plan, time_limit, leg=leg)
    ended_by = _play(carrier, call, plan, run, pending_twiml)
    _finish(carrier, call, "completed", callbacks, plan, ended_by=ended_by, run=run, leg=leg)


def _play(
    carrier: Carrier, call: SimCall, plan: CallPlan, run: CallRun, pending_twiml: str | None
) -> str:
    """Play the call's TwiML until it ends; return why it ended."""
    form = call.form
    detection = form.get("MachineDetection") is not None and plan.amd_result is not None
    asynchronous = form.get("AsyncAmd", "false") == "true"
    extra: dict[str, str] = {}
    try:
        if detection and asynchronous:
            run.schedule_amd(plan.amd_after_s or 0.0)
        elif detection:
            run.advance(plan.amd_after_s or 0.0)  # synchronous AMD holds the call until known
            with carrier.lock:
                call.answered_by = plan.amd_result
            extra["AnsweredBy"] = plan.amd_result or "unknown"
        document: Document
        if pending_twiml is not None:
            run.generation += 1
            document = parse_twiml(pending_twiml, None, run.generation)
        elif form.get("Url"):
            document = run.fetch(form["Url"], form.get("Method", "POST"), extra, purpose="answer")
        else:
            document = parse_twiml(form.get("Twiml", ""), None, 0)
        run.run(document)
    except CallEnded as ended:
        return ended.reason
    return "twiml_end"  # pragma: no cover (run() always ends by raising CallEnded)


def _finish(
    carrier: Carrier,
    call: SimCall,
    status: str,
    callbacks: _Callbacks | None,
    plan: CallPlan | None,
    *,
    ended_by: str,
    run: CallRun | None = None,
    leg: HandlerLeg | None = None,
) -> None:
    duration = math.ceil(run.elapsed) if run is not None else 0
    with carrier.lock:
        if call.final:
            return
        call.status = status
        call.end_time = call.updated_at = clock.now()
        call.duration_s = duration
    carrier.ledger.record(
        "call",
        sid=call.sid,
        attempt_id=call.attempt_id,
        to=call.to,
        status=status,
        duration_s=duration,
        ring_s=round(plan.ring_s, 1) if plan is not None else None,
        answered_by=call.answered_by,
        plan=plan.outcome if plan is not None else None,
        amd_planned=plan.amd_result if plan is not None else None,
        digits=run.digits if run is not None else [],
        ended_by=ended_by,
    )
    if run is not None and run.recorder is not None:
        summary = run.recorder.summary()
        if summary is not None:
            carrier.ledger.record(
                "voicemail",
                sid=call.sid,
                attempt_id=call.attempt_id,
                to=call.to,
                answered_by=call.answered_by,
                **summary,
            )
    if leg is not None:
        carrier.staff.leg_ended(
            call.sid, leg, status=status, duration_s=duration, ended_by=ended_by
        )
    if callbacks is not None:
        callbacks.send(status, {"CallDuration": str(duration)})
