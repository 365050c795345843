"""The simulator refuses what Twilio refuses, in Twilio's shape, and signs as Twilio signs."""

from __future__ import annotations

import base64
import hashlib
import uuid
from collections.abc import Iterator
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import quote, unquote

import pytest
import requests
from openapi_schema_validator import OAS30Validator
from werkzeug.datastructures import Headers, MultiDict

from rmc_outreach.simulation.carrier import RunningSimulator, compute_signature, start_simulator
from rmc_outreach.simulation.carrier.spec import (
    CREATE_CALL,
    CREATE_MESSAGE,
    FETCH_CALL,
    FETCH_MESSAGE,
    LIST_CALLS,
    SPEC_PATH,
    UPDATE_CALL,
    ApiRequest,
    Operation,
    load_spec_document,
    spec_engine,
    spec_operation,
)
from tests.simulation.carrier_support import ACCOUNT_SID, AUTH_TOKEN, OUR_NUMBER, make_settings

PATIENT = "+447700900202"
HOOK = f"http://127.0.0.1:9/twilio/voice/{uuid.uuid4()}"


@pytest.fixture(scope="module")
def simulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningSimulator]:
    settings = make_settings(tmp_path_factory.mktemp("var"), "http://127.0.0.1:9")
    running = start_simulator(settings, seed=3, time_scale=1000.0)
    yield running
    running.stop()


def _valid_call() -> dict[str, Any]:
    return {
        "To": PATIENT,
        "From": OUR_NUMBER,
        "Url": f"{HOOK}/answer",
        "StatusCallback": f"{HOOK}/status",
        "StatusCallbackEvent": ["initiated", "ringing", "answered", "completed"],
        "MachineDetection": "DetectMessageEnd",
        "AsyncAmd": "true",
        "AsyncAmdStatusCallback": f"{HOOK}/amd",
        "Timeout": "25",
    }


def _post(
    simulator: RunningSimulator, resource: str, data: dict[str, Any], auth: tuple[str, str] | None
) -> requests.Response:
    url = f"{simulator.base_url}/2010-04-01/Accounts/{ACCOUNT_SID}/{resource}"
    return requests.post(url, data=data, auth=auth or (ACCOUNT_SID, AUTH_TOKEN), timeout=5)


def _without(data: dict[str, Any], *names: str) -> dict[str, Any]:
    return {key: value for key, value in data.items() if key not in names}


INVALID_CALLS = [
    ("missing To", _without(_valid_call(), "To"), 21201),
    ("To not a phone number", {**_valid_call(), "To": "+44123"}, 21211),
    ("bad MachineDetection", {**_valid_call(), "MachineDetection": "Bogus"}, 21200),
    ("AsyncAmd as a Python bool", {**_valid_call(), "AsyncAmd": "True"}, 21200),
    ("no Url, Twiml or ApplicationSid", _without(_valid_call(), "Url"), 21200),
    ("unknown progress event", {**_valid_call(), "StatusCallbackEvent": ["picked-up"]}, 21200),
    ("Timeout over 600", {**_valid_call(), "Timeout": "601"}, 21200),
    ("Timeout not a number", {**_valid_call(), "Timeout": "soon"}, 21200),
    ("relative Url", {**_valid_call(), "Url": "/answer"}, 21200),
    ("Method PUT", {**_valid_call(), "Method": "PUT"}, 21200),
    ("misspelt parameter", {**_valid_call(), "MachineDetect": "Enable"}, 21200),
    (
        "Twiml too long",
        {**_without(_valid_call(), "Url"), "Twiml": "<Response>" + "x" * 4000 + "</Response>"},
        21200,
    ),
    ("Twiml not XML", {**_without(_valid_call(), "Url"), "Twiml": "<Response>"}, 12100),
]


@pytest.mark.parametrize(("case", "data", "code"), INVALID_CALLS, ids=[c[0] for c in INVALID_CALLS])
def test_an_invalid_create_call_is_refused_with_a_twilio_shaped_400(
    simulator: RunningSimulator, case: str, data: dict[str, Any], code: int
) -> None:
    response = _post(simulator, "Calls.json", data, None)

    assert response.status_code == 400, case
    body = response.json()
    assert set(body) == {"code", "message", "more_info", "status"}
    assert (body["code"], body["status"]) == (code, 400)
    assert body["more_info"] == f"https://www.twilio.com/docs/errors/{code}"
    assert PATIENT not in body["message"]
    last = simulator.ledger("request")[-1]
    assert (last["validation_failed"], last["error_code"]) == (True, code)


INVALID_MESSAGES = [
    ("missing To", {"From": OUR_NUMBER, "Body": "Hello"}, 21604),
    ("no From or service", {"To": PATIENT, "Body": "Hello"}, 21603),
    ("no body", {"To": PATIENT, "From": OUR_NUMBER}, 21602),
    ("body over 1600", {"To": PATIENT, "From": OUR_NUMBER, "Body": "x" * 1601}, 21617),
    ("To in national format", {"To": "07700900202", "From": OUR_NUMBER, "Body": "Hi"}, 21211),
]


@pytest.mark.parametrize(
    ("case", "data", "code"), INVALID_MESSAGES, ids=[c[0] for c in INVALID_MESSAGES]
)
def test_an_invalid_create_message_is_refused_with_a_twilio_shaped_400(
    simulator: RunningSimulator, case: str, data: dict[str, Any], code: int
) -> None:
    response = _post(simulator, "Messages.json", data, None)

    assert (response.status_code, response.json()["code"]) == (400, code), case


def test_wrong_credentials_are_refused_with_401_and_nothing_is_created(
    simulator: RunningSimulator,
) -> None:
    before = simulator.stats()["calls_created"]

    response = _post(simulator, "Calls.json", _valid_call(), (ACCOUNT_SID, "not-the-token"))

    assert response.status_code == 401
    assert response.json()["code"] == 20003
    assert simulator.stats()["calls_created"] == before
    ledger = requests.get(f"{simulator.base_url}/_simulator/ledger", timeout=5)
    assert ledger.status_code == 401


def test_a_valid_create_call_is_accepted_with_a_call_resource(simulator: RunningSimulator) -> None:
    response = _post(simulator, "Calls.json", _valid_call(), None)

    assert response.status_code == 201
    call = response.json()
    assert call["sid"].startswith("CA") and len(call["sid"]) == 34
    assert (call["to"], call["from"], call["status"]) == (PATIENT, OUR_NUMBER, "queued")
    assert call["date_created"].endswith("+0000")
    fetched = requests.get(
        f"{simulator.base_url}{call['uri']}", auth=(ACCOUNT_SID, AUTH_TOKEN), timeout=5
    )
    assert fetched.json()["sid"] == call["sid"]
    unknown = requests.get(
        f"{simulator.base_url}/2010-04-01/Accounts/{ACCOUNT_SID}/Calls/CA{'0' * 32}.json",
        auth=(ACCOUNT_SID, AUTH_TOKEN),
        timeout=5,
    )
    assert (unknown.status_code, unknown.json()["code"]) == (404, 20404)


def test_the_signing_function_reproduces_twilios_published_test_vector() -> None:
    params = {
        "CallSid": "CA1234567890ABCDE",
        "Caller": "+14158675309",
        "Digits": "1234",
        "From": "+14158675309",
        "To": "+18005551212",
    }
    url = "https://mycompany.com/myapp.php?foo=1&bar=2"

    assert compute_signature("12345", url, params) == "RSOYDt4T1cUTdK1PDd93/VVr8B8="
    assert compute_signature("12346", url, params) != "RSOYDt4T1cUTdK1PDd93/VVr8B8="


def _api_request(operation: Operation, form: dict[str, Any], query: str = "") -> ApiRequest:
    path = operation.spec_path.replace("{AccountSid}", ACCOUNT_SID).replace(
        "{Sid}", "CA" + "1" * 32
    )
    values = {"AccountSid": ACCOUNT_SID}
    if "{Sid}" in operation.spec_path:
        values["Sid"] = "CA" + "1" * 32
    body = MultiDict[str, str]()
    for key, value in form.items():
        for item in value if isinstance(value, list) else [value]:
            body.add(key, item)
    pairs = [part.split("=", 1) for part in query.split("&") if part]
    parsed_query = MultiDict[str, str]([(name, value) for name, value in pairs])
    encoded = "&".join(f"{k}={quote(v, safe='')}" for k, v in body.items(multi=True))
    return ApiRequest(
        operation=operation,
        path=path,
        path_params=values,
        query=parsed_query,
        form=body,
        content_type="application/x-www-form-urlencoded" if form else "",
        body=encoded.encode(),
        headers=Headers({"Authorization": "Basic " + base64.b64encode(b"AC:token").decode()}),
    )


AGREEMENT_CASES = [
    (CREATE_CALL, _valid_call(), ""),
    (CREATE_CALL, _without(_valid_call(), "To"), ""),
    (CREATE_CALL, {**_valid_call(), "Timeout": "soon"}, ""),
    (CREATE_CALL, {**_valid_call(), "Method": "PUT"}, ""),
    (CREATE_CALL, {**_valid_call(), "Url": "/relative"}, ""),
    (CREATE_CALL, {**_valid_call(), "Byoc": "BYnot-a-sid"}, ""),
    (UPDATE_CALL, {"Twiml": "<Response><Hangup/></Response>"}, ""),
    (UPDATE_CALL, {"Status": "paused"}, ""),
    (CREATE_MESSAGE, {"To": PATIENT, "From": OUR_NUMBER, "Body": "Hello"}, ""),
    (CREATE_MESSAGE, {"To": "07700900202", "From": OUR_NUMBER, "Body": "Hello"}, ""),
    (CREATE_MESSAGE, {"To": PATIENT, "From": OUR_NUMBER, "Body": "Hi", "Attempt": "x"}, ""),
    (LIST_CALLS, {}, "To=%2B447700900202&StartTime>=2026-11-27T09:00:00Z&PageSize=20"),
    (LIST_CALLS, {}, "To=%2B447700900202&PageSize=many"),
    (LIST_CALLS, {}, "StartTime>=yesterday"),
]


@pytest.mark.parametrize(("operation", "form", "query"), AGREEMENT_CASES)
def test_the_compiled_validator_agrees_with_openapi_core_on_the_spec(
    operation: Operation, form: dict[str, Any], query: str
) -> None:
    request = _api_request(operation, form, unquote(query))

    reference = spec_engine("openapi-core").validate(request)
    compiled = spec_engine("compiled").validate(request)

    assert {(p.location, p.field) for p in compiled} == {(p.location, p.field) for p in reference}


def test_the_shipped_spec_is_twilios_file_unchanged() -> None:
    digest = hashlib.sha256(SPEC_PATH.read_bytes()).hexdigest()

    assert digest == "99cae87a6bb1725f71363364cbd30282a13140374b2d5f9bdd5bdfa5d4c8a6d7"


def _response_schema(operation: Operation, status: str) -> dict[str, Any]:
    schema: dict[str, Any] = spec_operation(operation)["responses"][status]["content"][
        "application/json"
    ]["schema"]
    return {**schema, "components": load_spec_document()["components"]}


def test_every_answer_matches_the_response_schema_of_the_spec(
    simulator: RunningSimulator,
) -> None:
    base = f"{simulator.base_url}/2010-04-01/Accounts/{ACCOUNT_SID}"

    def get(path: str) -> Any:
        return requests.get(f"{base}/{path}", auth=(ACCOUNT_SID, AUTH_TOKEN), timeout=5).json()

    created = _post(simulator, "Calls.json", _valid_call(), None).json()
    message = _post(
        simulator, "Messages.json", {"To": PATIENT, "From": OUR_NUMBER, "Body": "Hi"}, None
    ).json()
    answers = [
        (CREATE_CALL, "201", created),
        (FETCH_CALL, "200", get(f"Calls/{created['sid']}.json")),
        (LIST_CALLS, "200", get("Calls.json")),
        (CREATE_MESSAGE, "201", message),
        (FETCH_MESSAGE, "200", get(f"Messages/{message['sid']}.json")),
    ]

    for operation, status, body in answers:
        validator = OAS30Validator(_response_schema(operation, status))
        assert [error.message for error in validator.iter_errors(body)] == [], operation.name
    assert parsedate_to_datetime(created["date_created"]).tzinfo is not None
    assert created["sid"] in [call["sid"] for call in answers[2][2]["calls"]]
