"""The simulator's HTTP interface: Twilio's REST endpoints we use, and its own ``/_simulator``.

Every REST request goes through the same steps: forced faults (test hooks), HTTP Basic auth
against the configured account SID and token (401, 20003), validation against Twilio's spec and
Twilio's further rules (400 with a Twilio error), the operation, a ledger entry, and, if a slow
response was asked for, a delay after acting and before answering.

``/_simulator`` (Basic auth too, except ``health``): ``GET ledger?after=N&kind=K``, ``GET stats``,
``POST faults`` (``rate_limited``, ``slow_responses``, ``slow_response_s``), ``POST inbound-sms``
(``From``, ``To``, ``Body``: a person texts our number), ``GET health``.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import json
import logging
import time
from collections.abc import Iterable
from typing import Any
from urllib.parse import parse_qsl
from wsgiref.types import StartResponse, WSGIEnvironment

from werkzeug.datastructures import MultiDict
from werkzeug.exceptions import HTTPException, MethodNotAllowed, NotFound
from werkzeug.routing import Map, Rule
from werkzeug.wrappers import Request, Response

from rmc_outreach.simulation.carrier import calls, messaging
from rmc_outreach.simulation.carrier.resources import API_VERSION, attempt_id_from
from rmc_outreach.simulation.carrier.rules import (
    TwilioApiError,
    authentication_failed,
    check_twilio_rules,
    error_for_spec_problems,
    not_found,
    too_many_requests,
)
from rmc_outreach.simulation.carrier.spec import (
    CREATE_CALL,
    CREATE_MESSAGE,
    FETCH_CALL,
    FETCH_MESSAGE,
    FORM_CONTENT_TYPE,
    LIST_CALLS,
    OPERATIONS,
    UPDATE_CALL,
    ApiRequest,
    Operation,
    spec_engine,
)
from rmc_outreach.simulation.carrier.state import Carrier

log = logging.getLogger(__name__)

DEFAULT_PAGE_SIZE = 50
SIMULATOR_ENDPOINTS = ("ledger", "stats", "faults", "inbound-sms", "health")


def _json(data: Any, status: int = 200) -> Response:
    return Response(json.dumps(data), status=status, mimetype="application/json")


def _form(request: Request) -> MultiDict[str, str]:
    """The form fields, parsed from the raw body (kept, as the spec validation needs it too)."""
    body = request.get_data(cache=True)
    if request.method != "POST" or request.mimetype != FORM_CONTENT_TYPE:
        return MultiDict()
    return MultiDict(parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True))


class CarrierApp:
    """The WSGI application."""

    def __init__(self, carrier: Carrier) -> None:
        self.carrier = carrier
        self.engine = spec_engine(carrier.settings.validation)
        rules = [
            Rule(operation.route, endpoint=operation.name, methods=[operation.method])
            for operation in OPERATIONS
        ]
        rules += [Rule(f"/_simulator/{name}", endpoint=f"_{name}") for name in SIMULATOR_ENDPOINTS]
        self.url_map = Map(rules)
        self._operations = {operation.name: operation for operation in OPERATIONS}

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        """WSGI entry point."""
        request = Request(environ)
        response = self.dispatch(request)
        return response(environ, start_response)

    def dispatch(self, request: Request) -> Response:
        """Route one request."""
        adapter = self.url_map.bind_to_environ(request.environ)
        try:
            endpoint, values = adapter.match()
        except MethodNotAllowed:
            return _json(TwilioApiError(405, 20004, "Method not allowed").body(), 405)
        except NotFound:
            return _json(not_found(request.path).body(), 404)
        except HTTPException as error:  # pragma: no cover (routing raises only the two above)
            return _json({"message": str(error)}, error.code or 500)
        if endpoint.startswith("_"):
            return self._simulator(endpoint[1:], request)
        return self._api(self._operations[endpoint], dict(values), request)

    def _authorised(self, request: Request) -> bool:
        header = request.headers.get("Authorization", "")
        scheme, _, encoded = header.partition(" ")
        if scheme.lower() != "basic":
            return False
        try:
            user, _, password = base64.b64decode(encoded).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            return False
        settings = self.carrier.settings
        return hmac.compare_digest(user, settings.account_sid) and hmac.compare_digest(
            password, settings.auth_token
        )

    def _api(self, operation: Operation, values: dict[str, str], request: Request) -> Response:
        form = _form(request)
        query: MultiDict[str, str] = request.args.copy()
        entry: dict[str, Any] = {
            "operation": operation.name,
            "method": request.method,
            "path": request.path,
            "to": form.get("To") or query.get("To"),
            "from": form.get("From"),
            "attempt_id": attempt_id_from(
                form.get("StatusCallback"), form.get("Url"), form.get("AsyncAmdStatusCallback")
            ),
            "sid": values.get("Sid"),
            "validation_failed": False,
        }
        try:
            status, body = self._handle(
                operation, values, request, form=form, query=query, entry=entry
            )
        except TwilioApiError as error:
            status, body = error.status, error.body()
            entry["error_code"] = error.code
        except Exception:  # a simulator bug: answer as Twilio does when it fails
            log.exception("simulator error in %s", operation.name)
            failure = TwilioApiError(500, 20500, "Internal Server Error")
            status, body = failure.status, failure.body()
            entry["error_code"] = failure.code
        entry["status"] = status
        self.carrier.ledger.record("request", **entry)
        delay = self.carrier.faults.take_delay()
        if delay:
            time.sleep(delay)
        return _json(body, status)

    def _handle(
        self,
        operation: Operation,
        values: dict[str, str],
        request: Request,
        *,
        form: MultiDict[str, str],
        query: MultiDict[str, str],
        entry: dict[str, Any],
    ) -> tuple[int, Any]:
        if self.carrier.faults.take_rate_limit():
            raise too_many_requests()
        if (
            not self._authorised(request)
            or values["AccountSid"] != self.carrier.settings.account_sid
        ):
            raise authentication_failed()
        api_request = ApiRequest(
            operation=operation,
            path=request.path,
            path_params=values,
            query=query,
            form=form,
            content_type=request.mimetype,
            body=request.get_data(),
            headers=request.headers,
        )
        problems = self.engine.validate(api_request)
        if problems:
            entry["validation_failed"] = True
            entry["problems"] = [problem.describe() for problem in problems]
            log.info("refused %s: %s", operation.name, "; ".join(entry["problems"]))
            raise error_for_spec_problems(operation, problems)
        refusal = check_twilio_rules(operation, form)
        if refusal is not None:
            entry["validation_failed"] = True
            entry["problems"] = [refusal.message]
            log.info("refused %s: %s", operation.name, refusal.message)
            raise refusal
        return self._operate(operation, values, form=form, query=query, entry=entry)

    def _operate(
        self,
        operation: Operation,
        values: dict[str, str],
        *,
        form: MultiDict[str, str],
        query: MultiDict[str, str],
        entry: dict[str, Any],
    ) -> tuple[int, Any]:
        carrier, account = self.carrier, values["AccountSid"]
        if operation == CREATE_CALL:
            call = calls.create_call(carrier, account, form)
            entry["sid"] = call.sid
            return 201, call.json()
        if operation == FETCH_CALL:
            return 200, calls.find_call(carrier, values["Sid"]).json()
        if operation == UPDATE_CALL:
            call = calls.update_call(carrier, calls.find_call(carrier, values["Sid"]), form)
            return 200, call.json()
        if operation == LIST_CALLS:
            return 200, self._call_page(account, query)
        if operation == CREATE_MESSAGE:
            message = messaging.create_message(carrier, account, form)
            entry["sid"] = message.sid
            return 201, message.json()
        if operation == FETCH_MESSAGE:
            return 200, messaging.find_message(carrier, values["Sid"]).json()
        raise not_found(operation.spec_path)  # pragma: no cover (every operation is routed)

    def _call_page(self, account: str, query: MultiDict[str, str]) -> dict[str, Any]:
        page_size = int(query.get("PageSize", DEFAULT_PAGE_SIZE))
        page = int(query.get("Page", 0))
        found = calls.list_calls(self.carrier, query)
        selected = found[page * page_size : (page + 1) * page_size]
        uri = f"/{API_VERSION}/Accounts/{account}/Calls.json"
        return {
            "calls": [call.json() for call in selected],
            "end": page * page_size + max(0, len(selected) - 1),
            "first_page_uri": f"{uri}?PageSize={page_size}&Page=0",
            "next_page_uri": None,
            "page": page,
            "page_size": page_size,
            "previous_page_uri": None,
            "start": page * page_size,
            "uri": f"{uri}?PageSize={page_size}&Page={page}",
        }

    def _simulator(self, name: str, request: Request) -> Response:
        if name == "health":
            return _json({"status": "ok"})
        if not self._authorised(request):
            return _json(authentication_failed().body(), 401)
        handlers = {
            ("ledger", "GET"): self._ledger,
            ("stats", "GET"): lambda _request: _json(simulator_stats(self.carrier)),
            ("faults", "POST"): self._faults,
            ("inbound-sms", "POST"): self._inbound_sms,
        }
        handler = handlers.get((name, request.method))
        if handler is None:
            return _json(TwilioApiError(405, 20004, "Method not allowed").body(), 405)
        try:
            return handler(request)
        except (KeyError, ValueError):
            return _json(TwilioApiError(400, 400, "Bad request").body(), 400)

    def _ledger(self, request: Request) -> Response:
        after = int(request.args.get("after", -1))
        kind = request.args.get("kind")
        return _json({"entries": self.carrier.ledger.entries(after=after, kind=kind)})

    def _faults(self, request: Request) -> Response:
        data = request.get_json(silent=True) or request.form
        self.carrier.faults.set(
            rate_limited=int(data.get("rate_limited", 0)),
            slow_responses=int(data.get("slow_responses", 0)),
            slow_response_s=float(data.get("slow_response_s", 0.0)),
        )
        return _json({"status": "armed"})

    def _inbound_sms(self, request: Request) -> Response:
        form = request.form
        reply = messaging.send_inbound_sms(self.carrier, form["From"], form["To"], form["Body"])
        return _json({"webhook_status": reply.status})


def simulator_stats(carrier: Carrier) -> dict[str, Any]:
    """Counts for ``GET /_simulator/stats``: ledger counts plus what is live right now."""
    with carrier.lock:
        live_calls = carrier.active_calls
        calls_known, messages_known = len(carrier.calls), len(carrier.messages)
        blocked = len(carrier.blocked)
    counts = carrier.ledger.counts()
    return {
        "counts": counts,
        "validation_failures": counts.get("validation_failures", 0),
        "calls_created": calls_known,
        "calls_live": live_calls,
        "messages_created": messages_known,
        "scheduled_events": carrier.scheduler.pending(),
        "opt_out_blocks": blocked,
        "time_scale": carrier.sim_time.rate,
        "queues": carrier.queues.snapshot(carrier.sim_time.now_s()),
        "staff": carrier.staff.snapshot(),
    }
