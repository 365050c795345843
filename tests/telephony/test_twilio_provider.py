"""Contract tests: our TwilioProvider (the real SDK) against the carrier simulator.

Every request the provider sends is checked by the simulator against Twilio's OpenAPI spec with
openapi-core, plus Twilio's further rules; the tests assert none failed. Errors come back as
Twilio sends them and must map to our three error kinds.
"""

from __future__ import annotations

import socket
import uuid
from collections.abc import Iterator
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import pytest

from rmc_outreach import clock
from rmc_outreach.messages import default_public_context
from rmc_outreach.telephony import twiml
from rmc_outreach.telephony.base import CallRequest, HandlerCallRequest, SmsRequest
from rmc_outreach.telephony.errors import (
    AmbiguousProviderError,
    PermanentProviderError,
    RetryableProviderError,
)
from rmc_outreach.telephony.twilio_provider import TwilioProvider
from tests.simulation.carrier_support import (
    OUR_NUMBER,
    Harness,
    harness,
    quiet_population,
)

PATIENT = "+447700900404"
LANDLINE = "+441632960404"
HOLD = "<Response><Pause length='3000'/></Response>"


@pytest.fixture
def h(tmp_path: Path) -> Iterator[Harness]:
    with harness(tmp_path, quiet_population(), time_scale=50.0) as running:
        running.receiver.answer_twiml = lambda attempt: HOLD
        yield running


def _operations(h: Harness) -> list[tuple[str, int]]:
    return [(e["operation"], e["status"]) for e in h.simulator.ledger("request")]


def _call_request(h: Harness, to: str = PATIENT) -> CallRequest:
    attempt = uuid.uuid4()
    urls = h.receiver.urls
    return CallRequest(
        to=to,
        caller_id=OUR_NUMBER,
        answer_url=urls.call_answer(attempt),
        status_callback_url=urls.call_status(attempt),
        amd_callback_url=urls.call_amd(attempt),
    )


def _sms_request(h: Harness, to: str = PATIENT) -> SmsRequest:
    return SmsRequest(
        to=to,
        sender=OUR_NUMBER,
        body="Please call the booking team on 01632 960000.",
        status_callback_url=h.receiver.urls.sms_status(uuid.uuid4()),
    )


def test_every_request_the_provider_sends_validates_against_twilios_spec(h: Harness) -> None:
    started = clock.now() - timedelta(seconds=5)

    placed = h.provider.place_call(_call_request(h))
    h.receiver.wait_for(lambda: h.provider.fetch_call(placed.sid).status == "in-progress")
    found = h.provider.find_calls(PATIENT, started)
    h.provider.update_call_twiml(placed.sid, twiml.voicemail(default_public_context()))
    h.provider.hang_up(placed.sid)
    message = h.provider.send_sms(_sms_request(h))

    assert placed.sid.startswith("CA") and placed.status == "queued"
    assert [call.sid for call in found] == [placed.sid]
    assert found[0].to == PATIENT
    assert message.sid.startswith("SM") and message.status == "queued"
    operations = {operation for operation, _ in _operations(h)}
    assert operations == {
        "create_call",
        "fetch_call",
        "list_calls",
        "update_call",
        "create_message",
    }
    assert all(status in (200, 201) for _, status in _operations(h))
    assert h.simulator.stats()["validation_failures"] == 0


def test_fetch_message_reads_a_texts_delivery_status_with_a_valid_request(h: Harness) -> None:
    message = h.provider.send_sms(_sms_request(h))

    h.receiver.wait_for(lambda: h.provider.fetch_message(message.sid).status == "delivered")
    fetched = h.provider.fetch_message(message.sid)

    assert (fetched.sid, fetched.status, fetched.error_code) == (message.sid, "delivered", None)
    assert ("fetch_message", 200) in _operations(h)
    assert h.simulator.stats()["validation_failures"] == 0


def test_find_calls_ignores_calls_to_other_numbers_and_before_the_moment(h: Harness) -> None:
    first = h.provider.place_call(_call_request(h))
    h.provider.place_call(_call_request(h, to="+447700900405"))

    assert [c.sid for c in h.provider.find_calls(PATIENT, clock.now() - timedelta(minutes=1))] == [
        first.sid
    ]
    assert h.provider.find_calls(PATIENT, clock.now() + timedelta(minutes=1)) == []


def test_an_invalid_number_is_a_permanent_error_with_twilios_code(h: Harness) -> None:
    with pytest.raises(PermanentProviderError) as call_error:
        h.provider.place_call(_call_request(h, to="+44123"))
    with pytest.raises(PermanentProviderError) as sms_error:
        h.provider.send_sms(_sms_request(h, to="+44123"))

    assert (call_error.value.code, call_error.value.reason) == (21211, "invalid_number")
    assert (sms_error.value.code, sms_error.value.reason) == (21211, "invalid_number")
    assert _operations(h) == [("create_call", 400), ("create_message", 400)]


def test_an_sms_to_a_landline_is_a_permanent_not_sms_capable_error(h: Harness) -> None:
    with pytest.raises(PermanentProviderError) as error:
        h.provider.send_sms(_sms_request(h, to=LANDLINE))

    assert (error.value.code, error.value.reason) == (21614, "not_sms_capable")
    assert h.simulator.stats()["validation_failures"] == 0


def test_an_sms_after_the_patient_texted_stop_is_a_permanent_opted_out_error(h: Harness) -> None:
    h.provider.send_sms(_sms_request(h))
    assert h.simulator.send_inbound_sms(PATIENT, OUR_NUMBER, "stop") == 200

    with pytest.raises(PermanentProviderError) as error:
        h.provider.send_sms(_sms_request(h))

    assert (error.value.code, error.value.reason) == (21610, "opted_out")
    [inbound] = h.receiver.of_kind("inbound")
    assert inbound.form["Body"] == "stop" and inbound.signature_valid


def test_429s_are_retried_by_the_provider_until_the_call_is_accepted(h: Harness) -> None:
    h.simulator.inject_faults(rate_limited=2)

    placed = h.provider.place_call(_call_request(h))

    assert _operations(h) == [("create_call", 429), ("create_call", 429), ("create_call", 201)]
    assert h.simulator.stats()["calls_created"] == 1
    assert placed.sid == h.simulator.ledger("request")[-1]["sid"]


def test_a_refused_connection_is_retryable_once_the_retries_are_spent(tmp_path: Path) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]
    with harness(tmp_path) as running:
        settings = replace(running.settings, twilio_api_base_url=f"http://127.0.0.1:{closed_port}")
        provider = TwilioProvider(settings, max_attempts=2)

        with pytest.raises(RetryableProviderError) as error:
            provider.place_call(_call_request(running))

    assert error.value.reason == "connection_error"


def test_a_read_timeout_after_the_call_was_accepted_is_ambiguous_and_not_retried(
    h: Harness,
) -> None:
    provider = TwilioProvider(
        replace(h.settings, twilio_api_base_url=h.simulator.base_url), http_timeout_s=0.3
    )
    h.simulator.inject_faults(slow_responses=1, slow_response_s=1.0)

    with pytest.raises(AmbiguousProviderError):
        provider.place_call(_call_request(h))

    assert _operations(h) == [("create_call", 201)]  # acted on once, never sent again
    assert h.simulator.stats()["calls_created"] == 1


def test_a_handler_call_validates_against_twilios_spec_without_machine_detection(
    h: Harness,
) -> None:
    urls = h.receiver.urls
    placed = [
        h.provider.place_handler_call(
            HandlerCallRequest(
                to=endpoint,
                caller_id=OUR_NUMBER,
                answer_url=urls.offer_answer(7),
                status_callback_url=urls.offer_status(7),
            )
        )
        for endpoint in ("client:sim_handler_1", "+447700900406")
    ]

    assert all(call.sid.startswith("CA") for call in placed)
    assert [operation for operation, _ in _operations(h)] == ["create_call", "create_call"]
    assert all(status == 201 for _, status in _operations(h))
    assert h.simulator.stats()["validation_failures"] == 0
