"""The simulator's webhook sender: one resend when a connection closes with no answer."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest

from rmc_outreach.simulation.carrier.ledger import Ledger
from rmc_outreach.simulation.carrier.webhooks import SIGNATURE_HEADER, WebhookSender
from tests.simulation.carrier_support import AUTH_TOKEN

TOKEN_HEADER = "i-twilio-idempotency-token"
NO_CONTENT = b"HTTP/1.1 204 No Content\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
SERVER_ERROR = b"HTTP/1.1 500 Oops\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"


@dataclass
class Endpoint:
    """A one-thread HTTP endpoint on 127.0.0.1: each connection gets the next planned answer
    (None: read the request, then close without a word)."""

    answers: list[bytes | None]
    requests: list[dict[str, str]] = field(default_factory=list)
    port: int = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/twilio/voice/status"


def _headers(raw: bytes) -> dict[str, str]:
    head = raw.split(b"\r\n\r\n", 1)[0].decode("latin-1").split("\r\n")[1:]
    return {name.strip().lower(): value.strip() for name, value in (h.split(":", 1) for h in head)}


def _serve(listener: socket.socket, endpoint: Endpoint) -> None:
    for answer in endpoint.answers:
        try:
            connection, _ = listener.accept()
        except OSError:
            return
        with connection:
            raw = b""
            while b"\r\n\r\n" not in raw:
                chunk = connection.recv(65536)
                if not chunk:
                    break
                raw += chunk
            endpoint.requests.append(_headers(raw))
            if answer is not None:
                connection.sendall(answer)


@pytest.fixture
def endpoint(request: pytest.FixtureRequest) -> Iterator[Endpoint]:
    planned = Endpoint(answers=list(request.param))
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(5)
    planned.port = listener.getsockname()[1]
    server = threading.Thread(target=_serve, args=(listener, planned), daemon=True)
    server.start()
    yield planned
    listener.close()
    server.join(timeout=5)


def _sender() -> tuple[WebhookSender, Ledger]:
    ledger = Ledger(None)
    return WebhookSender(AUTH_TOKEN, ledger, threading.Event()), ledger


@pytest.mark.parametrize("endpoint", [[None, NO_CONTENT]], indirect=True)
def test_a_connection_closed_with_no_answer_is_sent_once_more_with_the_same_token(
    endpoint: Endpoint,
) -> None:
    sender, ledger = _sender()

    reply = sender.send(endpoint.url, {"CallStatus": "completed"}, purpose="status")

    assert reply.status == 204
    assert len(endpoint.requests) == 2
    first, second = endpoint.requests
    assert first[TOKEN_HEADER] == second[TOKEN_HEADER]
    assert first[SIGNATURE_HEADER.lower()] == second[SIGNATURE_HEADER.lower()]
    assert ledger.entries(kind="webhook") == []


@pytest.mark.parametrize("endpoint", [[None, None]], indirect=True)
def test_a_second_unanswered_connection_is_a_recorded_failure(endpoint: Endpoint) -> None:
    sender, ledger = _sender()

    reply = sender.send(endpoint.url, {"CallStatus": "completed"}, purpose="status")

    assert reply.status == 0
    assert len(endpoint.requests) == 2
    assert [entry["purpose"] for entry in ledger.entries(kind="webhook")] == ["status"]


@pytest.mark.parametrize("endpoint", [[SERVER_ERROR]], indirect=True)
def test_an_error_answer_is_never_sent_again(endpoint: Endpoint) -> None:
    sender, ledger = _sender()

    reply = sender.send(endpoint.url, {"CallStatus": "completed"}, purpose="status")

    assert reply.status == 500
    assert len(endpoint.requests) == 1
    assert [entry.get("status") for entry in ledger.entries(kind="webhook")] == [500]
