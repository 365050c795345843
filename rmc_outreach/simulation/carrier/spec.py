"""Validate REST requests against Twilio's own OpenAPI spec of the 2010 API.

The spec (``twilio_api_v2010.json`` next to this module) is Twilio's unchanged file from
twilio/twilio-oai 2.6.7 (MIT), loaded once per process. Two engines check a request against it:

- ``openapi-core``: the reference. openapi-core's full request unmarshalling, as the issue asks.
  It costs 10-30 ms a request (it re-resolves every property of the form schema each time), too
  slow for the benchmark's thousands of calls.
- ``compiled``: the same schemas, taken from the same spec and compiled once per operation with
  openapi-schema-validator's ``OAS30Validator`` (the validator openapi-core itself uses); form
  values are cast by the property types as openapi-core casts them. About 0.2 ms a request.

Tests run both and check they agree on valid and invalid requests. The spec leaves some formats
to Twilio's documentation; ours are ``phone-number`` (E.164), ``uri`` (absolute http(s) URL),
``endpoint`` and ``twiml`` (checked by ``rules``). Problems never carry the offending value (it may
be a phone number): only where it was and what kind of check failed.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal, Protocol
from urllib.parse import urlsplit

from jsonschema import FormatChecker  # type: ignore[import-untyped]
from openapi_schema_validator import OAS30Validator
from werkzeug.datastructures import Headers, ImmutableMultiDict, MultiDict

SPEC_PATH = Path(__file__).with_name("twilio_api_v2010.json")
TWILIO_HOST_URL = "https://api.twilio.com/"
FORM_CONTENT_TYPE = "application/x-www-form-urlencoded"
E164 = re.compile(r"^\+[1-9]\d{6,14}$")

EngineName = Literal["openapi-core", "compiled"]
ENGINES: tuple[EngineName, ...] = ("openapi-core", "compiled")


@dataclass(frozen=True)
class Operation:
    """One REST operation of Twilio's API that the simulator serves."""

    name: str
    method: str
    spec_path: str

    @property
    def route(self) -> str:
        """The werkzeug routing rule for this operation's path."""
        return re.sub(r"\{(\w+)\}", r"<\1>", self.spec_path)


_ACCOUNT = "/2010-04-01/Accounts/{AccountSid}"
CREATE_CALL = Operation("create_call", "POST", f"{_ACCOUNT}/Calls.json")
LIST_CALLS = Operation("list_calls", "GET", f"{_ACCOUNT}/Calls.json")
FETCH_CALL = Operation("fetch_call", "GET", f"{_ACCOUNT}/Calls/{{Sid}}.json")
UPDATE_CALL = Operation("update_call", "POST", f"{_ACCOUNT}/Calls/{{Sid}}.json")
CREATE_MESSAGE = Operation("create_message", "POST", f"{_ACCOUNT}/Messages.json")
FETCH_MESSAGE = Operation("fetch_message", "GET", f"{_ACCOUNT}/Messages/{{Sid}}.json")
OPERATIONS: tuple[Operation, ...] = (
    CREATE_CALL,
    LIST_CALLS,
    FETCH_CALL,
    UPDATE_CALL,
    CREATE_MESSAGE,
    FETCH_MESSAGE,
)


@dataclass(frozen=True)
class ApiRequest:
    """A REST request as received, with its operation and path parameters identified."""

    operation: Operation
    path: str
    path_params: Mapping[str, str]
    query: MultiDict[str, str]
    form: MultiDict[str, str]
    content_type: str
    body: bytes
    headers: Headers


@dataclass(frozen=True)
class SpecProblem:
    """One way a request breaks the spec: where, which field, which kind of check."""

    location: str  # "path", "query" or "body"
    field: str
    kind: str  # the JSON-schema keyword that failed ("required", "format", "type", "enum", ...)

    def describe(self) -> str:
        """A message safe to log and return: names the field and check, never the value."""
        return f"{self.location} parameter {self.field or '?'} fails '{self.kind}'"


class SpecEngine(Protocol):
    """Checks one request against the spec."""

    def validate(self, request: ApiRequest) -> list[SpecProblem]:
        """Every problem found; empty when the request is valid."""
        ...


def _is_uri(value: object) -> bool:
    if not isinstance(value, str):
        return True
    parts = urlsplit(value)
    return parts.scheme in ("http", "https") and bool(parts.netloc)


def _is_phone_number(value: object) -> bool:
    return not isinstance(value, str) or bool(E164.match(value))


def _any_string(value: object) -> bool:
    return True


FORMAT_CHECKS: dict[str, Callable[[object], bool]] = {
    "phone-number": _is_phone_number,
    "uri": _is_uri,
    "endpoint": _any_string,  # E.164, sip: or client: — checked by rules for phone numbers
    "twiml": _any_string,  # length and well-formedness are checked by rules
    "http-method": _any_string,  # the enum next to it does the work
}


@lru_cache(maxsize=1)
def load_spec_document() -> dict[str, Any]:
    """The spec as a dict, read once per process (the file is JSON; YAML loaders reject it)."""
    with SPEC_PATH.open(encoding="utf-8") as handle:
        document: dict[str, Any] = json.load(handle)
    return document


def spec_operation(operation: Operation) -> dict[str, Any]:
    """The spec's operation object for one of ours."""
    paths: dict[str, Any] = load_spec_document()["paths"]
    found: dict[str, Any] = paths[operation.spec_path][operation.method.lower()]
    return found


def body_schema(operation: Operation) -> dict[str, Any] | None:
    """The form body schema of an operation, or None when it takes no body."""
    body = spec_operation(operation).get("requestBody")
    if body is None:
        return None
    schema: dict[str, Any] = body["content"][FORM_CONTENT_TYPE]["schema"]
    return schema


def _resolve(schema: dict[str, Any]) -> dict[str, Any]:
    ref = schema.get("$ref")
    if not ref:
        return schema
    node: Any = load_spec_document()
    for part in ref.removeprefix("#/").split("/"):
        node = node[part]
    resolved: dict[str, Any] = node
    return resolved


def _format_checker() -> FormatChecker:
    checker = FormatChecker()
    for name, check in FORMAT_CHECKS.items():
        checker.checks(name)(check)
    return checker


def _validator(schema: dict[str, Any]) -> OAS30Validator:
    components = load_spec_document()["components"]
    return OAS30Validator({**schema, "components": components}, format_checker=_format_checker())


class _CastError(ValueError):
    pass


def _cast(value: str, schema: dict[str, Any]) -> Any:
    kind = _resolve(schema).get("type")
    try:
        if kind == "integer":
            return int(value)
        if kind == "number":
            return float(value)
    except ValueError as error:
        raise _CastError from error
    if kind == "boolean":
        lowered = value.lower()
        if lowered not in ("true", "false", "1", "0"):
            raise _CastError
        return lowered in ("true", "1")
    return value


def _cast_field(values: list[str], schema: dict[str, Any]) -> Any:
    resolved = _resolve(schema)
    if resolved.get("type") == "array":
        return [_cast(value, resolved.get("items", {})) for value in values]
    return _cast(values[-1], resolved)


def _schema_problems(
    validator: OAS30Validator, instance: Any, location: str, field: str = ""
) -> list[SpecProblem]:
    problems: list[SpecProblem] = []
    for error in validator.iter_errors(instance):
        if error.validator == "required" and isinstance(instance, dict):
            missing = [name for name in error.validator_value if name not in instance]
            problems.extend(SpecProblem(location, name, "required") for name in missing)
            continue
        name = str(error.path[0]) if error.path else field
        problems.append(SpecProblem(location, name, str(error.validator)))
    return problems


@dataclass(frozen=True)
class _CompiledParameter:
    name: str
    location: str
    required: bool
    schema: dict[str, Any]
    validator: OAS30Validator


@dataclass(frozen=True)
class _CompiledOperation:
    parameters: tuple[_CompiledParameter, ...]
    body: dict[str, Any] | None
    body_validator: OAS30Validator | None


class CompiledEngine:
    """The spec's schemas compiled once per operation (fast path)."""

    def __init__(self) -> None:
        self._compiled = {operation.name: self._compile(operation) for operation in OPERATIONS}

    @staticmethod
    def _compile(operation: Operation) -> _CompiledOperation:
        parameters = tuple(
            _CompiledParameter(
                name=parameter["name"],
                location=parameter["in"],
                required=bool(parameter.get("required")),
                schema=parameter["schema"],
                validator=_validator(parameter["schema"]),
            )
            for parameter in spec_operation(operation).get("parameters", [])
        )
        schema = body_schema(operation)
        validator = _validator(schema) if schema is not None else None
        return _CompiledOperation(parameters, schema, validator)

    def validate(self, request: ApiRequest) -> list[SpecProblem]:
        """Every problem found in the path, query and form body."""
        compiled = self._compiled[request.operation.name]
        problems: list[SpecProblem] = []
        for parameter in compiled.parameters:
            source: Mapping[str, Any]
            if parameter.location == "path":
                source = {key: [value] for key, value in request.path_params.items()}
            else:
                source = {key: request.query.getlist(key) for key in request.query}
            if parameter.name not in source:
                if parameter.required:
                    problems.append(SpecProblem(parameter.location, parameter.name, "required"))
                continue
            try:
                value = _cast_field(list(source[parameter.name]), parameter.schema)
            except _CastError:
                problems.append(SpecProblem(parameter.location, parameter.name, "type"))
                continue
            problems.extend(
                _schema_problems(parameter.validator, value, parameter.location, parameter.name)
            )
        if compiled.body is not None and compiled.body_validator is not None:
            problems.extend(self._body_problems(compiled, request))
        return problems

    @staticmethod
    def _body_problems(compiled: _CompiledOperation, request: ApiRequest) -> list[SpecProblem]:
        assert compiled.body is not None and compiled.body_validator is not None  # noqa: S101
        if request.body and not request.content_type.startswith(FORM_CONTENT_TYPE):
            return [SpecProblem("body", "", "content-type")]
        properties: dict[str, Any] = compiled.body.get("properties", {})
        instance: dict[str, Any] = {}
        problems = []
        for key in request.form:
            if key not in properties:
                continue  # unknown keys are the rules' concern (the spec allows them)
            try:
                instance[key] = _cast_field(request.form.getlist(key), properties[key])
            except _CastError:
                problems.append(SpecProblem("body", key, "type"))
        return problems + _schema_problems(compiled.body_validator, instance, "body")


class OpenApiCoreEngine:
    """openapi-core's own request unmarshalling over the whole spec (the reference engine)."""

    def __init__(self) -> None:
        from openapi_core import Config, OpenAPI

        self._api = OpenAPI.from_dict(
            load_spec_document(),
            config=Config(spec_validator_cls=None, extra_format_validators=FORMAT_CHECKS),
        )

    def validate(self, request: ApiRequest) -> list[SpecProblem]:
        """Every problem openapi-core reports, as SpecProblems."""
        result = self._api.unmarshal_request(_OpenApiCoreRequest(request))
        problems: list[SpecProblem] = []
        for error in result.errors:
            problems.extend(_openapi_core_problems(error, request))
        return problems


def _openapi_core_problems(error: BaseException, request: ApiRequest) -> list[SpecProblem]:
    from openapi_core.casting.schemas.exceptions import CastError
    from openapi_core.validation.schemas.exceptions import InvalidSchemaValue

    location = str(getattr(error, "location", "") or "body")
    name = str(getattr(error, "name", "") or "")
    cause = error.__cause__
    if isinstance(cause, InvalidSchemaValue):
        problems: list[SpecProblem] = []
        schema_errors: tuple[Any, ...] = tuple(cause.schema_errors)
        for schema_error in schema_errors:
            if schema_error.validator == "required" and isinstance(schema_error.instance, dict):
                problems.extend(
                    SpecProblem(location, missing, "required")
                    for missing in schema_error.validator_value
                    if missing not in schema_error.instance
                )
            else:
                field = str(schema_error.path[0]) if schema_error.path else name
                problems.append(SpecProblem(location, field, str(schema_error.validator)))
        return problems
    if isinstance(cause, CastError):
        if not name:  # openapi-core does not say which form field failed to cast: find it
            name = next(
                (key for key in request.form if cause.value in request.form.getlist(key)), ""
            )
        return [SpecProblem(location, name, "type")]
    kind = "required" if "Missing" in type(error).__name__ else type(error).__name__
    return [SpecProblem(location, name, kind)]


class _OpenApiCoreRequest:
    """openapi-core's request protocol over our ApiRequest, as if sent to api.twilio.com."""

    host_url = TWILIO_HOST_URL

    def __init__(self, request: ApiRequest) -> None:
        from openapi_core.datatypes import RequestParameters

        self._request = request
        self.parameters = RequestParameters(
            query=ImmutableMultiDict(request.query),
            header=request.headers,
            cookie=ImmutableMultiDict(),
            path=dict(request.path_params),
        )

    @property
    def path(self) -> str:
        """The request path (the spec's server is api.twilio.com at the root)."""
        return self._request.path

    @property
    def method(self) -> str:
        """Lower-case HTTP method."""
        return self._request.operation.method.lower()

    @property
    def body(self) -> bytes | None:
        """The raw body."""
        return self._request.body or None

    @property
    def content_type(self) -> str:
        """The body's media type."""
        return self._request.content_type or "application/octet-stream"


@lru_cache(maxsize=2)
def spec_engine(name: EngineName) -> SpecEngine:
    """The named engine, built once per process."""
    if name == "openapi-core":
        return OpenApiCoreEngine()
    if name == "compiled":
        return CompiledEngine()
    raise ValueError(f"unknown validation engine {name!r}; choose from {ENGINES}")
