"""Call flows through the carrier simulator, end to end against a signed-webhook receiver."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import pytest
import requests

from rmc_outreach.messages import render_voice
from rmc_outreach.simulation.carrier.ledger import text_fingerprint
from rmc_outreach.telephony import twiml
from tests.simulation.carrier_support import (
    ACCOUNT_SID,
    AUTH_TOKEN,
    CONTEXT,
    OUR_NUMBER,
    Harness,
    harness,
    quiet_population,
)

PATIENT = "+447700900101"
ALL_PROGRESS_EVENTS = ("initiated", "ringing", "answered", "completed")


def _statuses(h: Harness, attempt: uuid.UUID) -> list[tuple[str, int, dict[str, str]]]:
    return [
        (item.form["CallStatus"], int(item.form["SequenceNumber"]), item.form)
        for item in h.receiver.of_kind("status", attempt)
    ]


def _finished(h: Harness, sid: str) -> dict[str, Any]:
    h.receiver.wait_for(lambda: any(e["sid"] == sid for e in h.simulator.ledger("call")))
    entry: dict[str, Any] = next(e for e in h.simulator.ledger("call") if e["sid"] == sid)
    return entry


def _all_signed(h: Harness) -> bool:
    return bool(h.receiver.received) and all(item.signature_valid for item in h.receiver.received)


@pytest.mark.parametrize(("digit", "template"), [("2", "sms_requested"), ("3", "declined")])
def test_a_person_who_answers_and_presses_two_or_three_hears_the_matching_message(
    tmp_path: Path, digit: str, template: str
) -> None:
    with harness(tmp_path, quiet_population(keypad_weights={digit: 1.0})) as h:
        attempt, sid = h.call(PATIENT)
        entry = _finished(h, sid)

        choices = h.receiver.of_kind("choice", attempt)
        assert [item.form["Digits"] for item in choices] == [digit]
        assert entry["status"] == "completed"
        assert entry["digits"] == [digit]
        assert entry["ended_by"] == "twiml_hangup"
        assert entry["attempt_id"] == str(attempt)
        assert entry["duration_s"] > len(render_voice(template, CONTEXT).split()) / 2.5
        assert _all_signed(h)


def test_a_person_who_presses_one_waits_in_the_queue_then_leaves_and_hears_the_rest(
    tmp_path: Path,
) -> None:
    with harness(tmp_path, quiet_population(keypad_weights={"1": 1.0})) as h:
        attempt, sid = h.call(PATIENT)
        entry = _finished(h, sid)

        waits = h.receiver.of_kind("wait", attempt)
        assert len(waits) == h.receiver.hold_rounds + 1
        assert [int(w.form["QueueTime"]) for w in waits] == sorted(
            int(w.form["QueueTime"]) for w in waits
        )
        assert entry["digits"] == ["1"]
        # After <Leave/> the verbs after <Enqueue> run: the no-handler message, then Hangup.
        assert entry["ended_by"] == "twiml_hangup"
        no_handler_s = len(render_voice("no_handler", CONTEXT).split()) / 2.5
        assert entry["duration_s"] > no_handler_s
        assert _all_signed(h)


def test_status_callbacks_arrive_in_order_with_sequence_numbers_and_the_duration_at_the_end(
    tmp_path: Path,
) -> None:
    with harness(tmp_path, quiet_population(keypad_weights={"3": 1.0})) as h:
        attempt, sid = h.call(PATIENT, status_events=ALL_PROGRESS_EVENTS)
        entry = _finished(h, sid)
        h.receiver.wait_for(lambda: len(_statuses(h, attempt)) == 4)

        statuses = _statuses(h, attempt)
        assert [(status, number) for status, number, _ in statuses] == [
            ("initiated", 0),
            ("ringing", 1),
            ("in-progress", 2),
            ("completed", 3),
        ]
        final = statuses[-1][2]
        assert final["CallDuration"] == str(entry["duration_s"])
        assert final["CallSid"] == sid
        assert all(form["Timestamp"].endswith("+0000") for _, _, form in statuses)
        amd = h.receiver.of_kind("amd", attempt)
        assert [item.form["AnsweredBy"] for item in amd] == ["human"]
        assert 2000 <= int(amd[0].form["MachineDetectionDuration"]) <= 4000


def test_a_person_who_presses_nothing_hears_the_options_again_then_goodbye(
    tmp_path: Path,
) -> None:
    with harness(tmp_path, quiet_population(keypad_weights={"": 1.0})) as h:
        attempt, sid = h.call(PATIENT)
        entry = _finished(h, sid)

        choices = h.receiver.of_kind("choice", attempt)
        assert [(c.query["round"], c.form["Digits"]) for c in choices] == [("1", ""), ("2", "")]
        assert entry["digits"] == []
        assert entry["ended_by"] == "twiml_hangup"


def _machine(**overrides: Any) -> Any:
    values: dict[str, Any] = {
        "answer_rate_override": 0.0,
        "answering_machine_share": 1.0,
        "machine_pickup_s": (6.0, 6.0),
        "greeting_s": (10.0, 10.0),
        "machine_result_weights": {"machine_end_beep": 1.0},
    }
    values.update(overrides)
    return quiet_population(**values)


def test_a_machine_gets_the_voicemail_after_the_beep_when_the_app_updates_the_call(
    tmp_path: Path,
) -> None:
    with harness(tmp_path, _machine()) as h:
        voicemail = twiml.voicemail(CONTEXT)
        h.receiver.on_amd = lambda sid, answered_by: (
            h.provider.update_call_twiml(sid, voicemail)
            if answered_by.startswith("machine_end")
            else None
        )
        attempt, sid = h.call(PATIENT)
        entry = _finished(h, sid)

        [amd] = h.receiver.of_kind("amd", attempt)
        assert amd.form["AnsweredBy"] == "machine_end_beep"
        assert int(amd.form["MachineDetectionDuration"]) >= 10000
        [recording] = [v for v in h.simulator.ledger("voicemail") if v["sid"] == sid]
        spoken = render_voice("voicemail", CONTEXT)
        assert recording["after_beep"] is True
        assert recording["message_chars"] == len(spoken)
        assert recording["message_sha256"] == text_fingerprint(spoken)
        assert recording["answered_by"] == "machine_end_beep"
        assert entry["ended_by"] == "twiml_hangup"
        assert h.simulator.stats()["validation_failures"] == 0


def test_a_voicemail_that_starts_before_the_beep_is_recorded_as_clipped(
    tmp_path: Path,
) -> None:
    # AMD mistakes the machine for a person at once, and the app (wrongly) leaves the message then.
    # A long greeting and a slow clock leave the app ample real time to do it before the beep.
    population = _machine(amd_machine_as_human_rate=1.0, greeting_s=(12.0, 12.0))
    with harness(tmp_path, population, time_scale=25.0) as h:
        voicemail = twiml.say_then_hang_up("voicemail", CONTEXT)
        h.receiver.on_amd = lambda sid, answered_by: h.provider.update_call_twiml(sid, voicemail)
        _, sid = h.call(PATIENT)
        _finished(h, sid)

        [recording] = [v for v in h.simulator.ledger("voicemail") if v["sid"] == sid]
        assert recording["after_beep"] is False
        assert 0 < recording["message_chars"] < len(render_voice("voicemail", CONTEXT))


def test_only_the_final_status_is_posted_when_only_it_is_subscribed(tmp_path: Path) -> None:
    with harness(tmp_path, quiet_population(keypad_weights={"3": 1.0})) as h:
        attempt, sid = h.call(PATIENT)  # the engine's default: ("completed",)
        entry = _finished(h, sid)
        h.receiver.wait_for(lambda: len(_statuses(h, attempt)) >= 1)

        assert [(status, number) for status, number, _ in _statuses(h, attempt)] == [
            ("completed", 0)
        ]
        assert _statuses(h, attempt)[0][2]["CallDuration"] == str(entry["duration_s"])
        assert len(h.receiver.of_kind("answer", attempt)) == 1


def test_nobody_answering_ends_as_no_answer_after_the_ring_timeout(tmp_path: Path) -> None:
    with harness(tmp_path, quiet_population(answer_rate_override=0.0)) as h:
        attempt, sid = h.call(PATIENT, status_events=ALL_PROGRESS_EVENTS)
        entry = _finished(h, sid)
        h.receiver.wait_for(lambda: len(_statuses(h, attempt)) == 3)

        assert [s for s, _, _ in _statuses(h, attempt)] == ["initiated", "ringing", "no-answer"]
        assert _statuses(h, attempt)[-1][2]["CallDuration"] == "0"
        assert entry["status"] == "no-answer"
        assert entry["ring_s"] == 25.0  # the provider's ring timeout
        assert h.receiver.of_kind("answer", attempt) == []


def test_a_busy_line_ends_busy_and_a_dead_number_fails_without_ringing(tmp_path: Path) -> None:
    with harness(tmp_path, quiet_population(busy_rate=1.0)) as h:
        attempt, sid = h.call(PATIENT, status_events=ALL_PROGRESS_EVENTS)
        assert _finished(h, sid)["status"] == "busy"
        h.receiver.wait_for(lambda: len(_statuses(h, attempt)) == 3)
        assert [s for s, _, _ in _statuses(h, attempt)] == ["initiated", "ringing", "busy"]

    with harness(tmp_path / "dead", quiet_population(dead_number_share=1.0)) as h:
        attempt, sid = h.call(PATIENT, status_events=ALL_PROGRESS_EVENTS)
        assert _finished(h, sid)["status"] == "failed"
        h.receiver.wait_for(lambda: len(_statuses(h, attempt)) == 2)
        assert [s for s, _, _ in _statuses(h, attempt)] == ["initiated", "failed"]
        assert h.provider.fetch_call(sid).status == "failed"


def test_hanging_up_through_the_api_ends_a_live_call_and_cancels_a_ringing_one(
    tmp_path: Path,
) -> None:
    hold = "<Response><Pause length='600'/></Response>"
    with harness(tmp_path, quiet_population(), time_scale=20.0) as h:
        h.receiver.answer_twiml = lambda attempt: hold
        _, live = h.call(PATIENT)
        h.receiver.wait_for(lambda: h.provider.fetch_call(live).status == "in-progress")
        h.provider.hang_up(live)
        assert _finished(h, live)["ended_by"] == "api_hang_up"
        assert h.provider.fetch_call(live).status == "completed"

    with harness(
        tmp_path / "ringing", quiet_population(answer_rate_override=0.0), time_scale=5.0
    ) as h:
        _, ringing = h.call(PATIENT)
        h.receiver.wait_for(lambda: h.provider.fetch_call(ringing).status == "ringing")
        h.provider.hang_up(ringing)
        assert _finished(h, ringing)["status"] == "canceled"


def test_every_request_and_outcome_is_in_the_ledger_file_and_endpoint(tmp_path: Path) -> None:
    with harness(tmp_path, quiet_population(keypad_weights={"2": 1.0})) as h:
        attempt, sid = h.call(PATIENT)
        _finished(h, sid)
        h.provider.fetch_call(sid)
        endpoint = h.simulator.ledger()

    lines = (tmp_path / "ledger.jsonl").read_text().splitlines()
    assert len(lines) == len(endpoint)
    requests = [e for e in endpoint if e["kind"] == "request"]
    assert [(e["operation"], e["status"]) for e in requests] == [
        ("create_call", 201),
        ("fetch_call", 200),
    ]
    assert requests[0]["attempt_id"] == str(attempt)
    assert requests[0]["to"] == PATIENT
    assert [e["seq"] for e in endpoint] == list(range(len(endpoint)))


def test_with_synchronous_amd_the_answer_request_carries_answered_by(tmp_path: Path) -> None:
    with harness(tmp_path) as h:
        attempt = uuid.uuid4()
        response = requests.post(
            f"{h.simulator.base_url}/2010-04-01/Accounts/{ACCOUNT_SID}/Calls.json",
            data={
                "To": PATIENT,
                "From": OUR_NUMBER,
                "Url": h.receiver.urls.call_answer(attempt),
                "MachineDetection": "Enable",
            },
            auth=(ACCOUNT_SID, AUTH_TOKEN),
            timeout=5,
        )
        assert response.status_code == 201
        h.receiver.wait_for(lambda: bool(h.receiver.of_kind("answer", attempt)))

        [answer] = h.receiver.of_kind("answer", attempt)
        assert answer.form["AnsweredBy"] == "human"
        assert answer.form["CallStatus"] == "in-progress"
        assert h.receiver.of_kind("amd", attempt) == []
