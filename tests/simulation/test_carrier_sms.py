"""SMS through the carrier simulator: delivery callbacks, replies, and Twilio's opt-out block."""

from __future__ import annotations

from pathlib import Path

import pytest

from rmc_outreach.simulation.carrier.ledger import text_fingerprint
from rmc_outreach.telephony.errors import PermanentProviderError
from tests.simulation.carrier_support import OUR_NUMBER, harness, quiet_population

PATIENT = "+447700900303"


def test_an_sms_is_sent_then_delivered_with_signed_callbacks_and_no_body(tmp_path: Path) -> None:
    with harness(tmp_path) as h:
        attempt, sid = h.sms(PATIENT, "Please call the booking team.")
        h.receiver.wait_for(lambda: len(h.receiver.of_kind("status", attempt)) == 2)

        callbacks = h.receiver.of_kind("status", attempt)
        assert [c.form["MessageStatus"] for c in callbacks] == ["sent", "delivered"]
        assert all(c.form["MessageSid"] == sid and c.signature_valid for c in callbacks)
        assert all("Body" not in c.form for c in callbacks)
        [entry] = h.simulator.ledger("message")
        assert (entry["status"], entry["attempt_id"]) == ("delivered", str(attempt))
        assert entry["body_chars"] == len("Please call the booking team.")
        assert "body" not in entry


def test_an_sms_to_a_dead_number_is_undelivered_with_a_carrier_error(tmp_path: Path) -> None:
    with harness(tmp_path, quiet_population(dead_number_share=1.0)) as h:
        attempt, _ = h.sms(PATIENT)
        h.receiver.wait_for(lambda: len(h.receiver.of_kind("status", attempt)) == 2)

        final = h.receiver.of_kind("status", attempt)[-1].form
        assert final["MessageStatus"] == "undelivered"
        assert final["ErrorCode"] in {"30003", "30005", "30006"}


def test_a_person_who_replies_call_reaches_our_inbound_webhook_signed(tmp_path: Path) -> None:
    with harness(tmp_path, quiet_population(sms_reply_weights={"call": 1.0})) as h:
        h.sms(PATIENT)
        h.receiver.wait_for(lambda: len(h.simulator.ledger("sms_reply")) == 1)

        [inbound] = h.receiver.of_kind("inbound")
        assert inbound.signature_valid
        assert inbound.form["From"] == PATIENT
        assert inbound.form["To"] == OUR_NUMBER
        assert inbound.form["Body"].upper() == "CALL"
        assert (inbound.form["SmsStatus"], inbound.form["NumSegments"]) == ("received", "1")
        assert inbound.form["MessageSid"].startswith("SM")
        [reply] = h.simulator.ledger("sms_reply")
        assert (reply["reply"], reply["webhook_status"]) == ("call", 200)
        assert reply["body_sha256"] == text_fingerprint(inbound.form["Body"])


def test_after_a_stop_reply_twilio_refuses_further_sms_until_start(tmp_path: Path) -> None:
    with harness(tmp_path, quiet_population(sms_reply_weights={"stop": 1.0})) as h:
        h.sms(PATIENT)
        h.receiver.wait_for(lambda: len(h.simulator.ledger("sms_reply")) == 1)

        with pytest.raises(PermanentProviderError) as refused:
            h.sms(PATIENT)
        assert (refused.value.code, refused.value.reason) == (21610, "opted_out")

        assert h.simulator.send_inbound_sms(PATIENT, OUR_NUMBER, "START") == 200
        h.sms(PATIENT)  # accepted again
        assert [e["keyword"] for e in h.simulator.ledger("sms_reply")][:2] == ["stop", "start"]
