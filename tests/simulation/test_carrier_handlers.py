"""Simulated handlers in the carrier simulator: ringing, bridging, wrap-up and the console posts.

The receiver plays our app (see ``carrier_support``): the tests ring handler endpoints as the ACD
does, and the handlers' console posts land on the receiver, not on the Flask console.
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, cast

import pytest
import requests

from rmc_outreach.calendar import CallingWindow
from rmc_outreach.clock import frozen_at
from rmc_outreach.simulation.carrier import Population
from rmc_outreach.simulation.carrier.ledger import Ledger
from rmc_outreach.simulation.carrier.staff import Staff, StaffConfig
from rmc_outreach.simulation.carrier.timing import Scheduler, SimTime
from tests.simulation.carrier_support import (
    ACCOUNT_SID,
    AUTH_TOKEN,
    OUR_NUMBER,
    Harness,
    harness,
    quiet_population,
)

PATIENT_A, PATIENT_B = "+447700900301", "+447700900302"
IDS = {"sim_handler_1": 11, "sim_handler_2": 12}
ALL_EVENTS = ("initiated", "ringing", "answered", "completed")


def _staff(**overrides: Any) -> StaffConfig:
    values: dict[str, Any] = {
        "count": 2,
        "handler_ids": IDS,
        "answer_delay_s": (2.0, 2.0),
        "no_answer_rate": 0.0,
        "talk_median_s": 40.0,
        "talk_sigma": 0.0,
        "wrap_up_s": (8.0, 8.0),
        "back_after_missed_s": (10.0, 10.0),
    }
    values.update(overrides)
    return StaffConfig(**values)


def _waiting_population() -> Any:
    return quiet_population(keypad_weights={"1": 1.0}, wait_callback_rate=0.0, ring_time_sigma=0.0)


def _ended(h: Harness, sid: str) -> dict[str, Any]:
    h.receiver.wait_for(lambda: any(e["sid"] == sid for e in h.simulator.ledger("call")))
    entry: dict[str, Any] = next(e for e in h.simulator.ledger("call") if e["sid"] == sid)
    return entry


def _queued(h: Harness, count: int) -> None:
    h.receiver.wait_for(lambda: len(h.simulator.ledger("queue_join")) >= count)


def test_at_start_every_handler_with_an_id_signs_in_as_available(tmp_path: Path) -> None:
    with harness(tmp_path, staff=_staff(count=3)) as h:
        h.receiver.wait_for(lambda: len(h.receiver.console_posts("state")) == 2)
        posts = h.receiver.console_posts("state")
        assert sorted(p.path for p in posts) == ["/api/console/11/state", "/api/console/12/state"]
        assert all(p.json == {"state": "available"} for p in posts)
        assert {e["purpose"] for e in h.simulator.ledger("handler_post")} == {"sign_in"}


def test_each_handler_signs_in_as_its_own_user_and_sends_the_csrf_token_it_was_given(
    tmp_path: Path,
) -> None:
    with harness(tmp_path, staff=_staff()) as h:
        h.receiver.wait_for(lambda: len(h.receiver.console_posts("state")) == 2)
        # Each with the token from /api/session and the password derived from the auth token
        # (the receiver refuses any other with 400 or 401).
        assert sorted(h.receiver.sign_ins) == [
            ("sim_handler_1", "session-token"),
            ("sim_handler_2", "session-token"),
        ]
        tokens = {p.path: p.csrf_token for p in h.receiver.console_posts("state")}
        assert tokens == {
            "/api/console/11/state": "token-sim_handler_1",
            "/api/console/12/state": "token-sim_handler_2",
        }
        assert {e["status"] for e in h.simulator.ledger("handler_post")} == {200}


def test_a_handler_answers_and_is_bridged_to_the_caller_of_the_queue_it_dials(
    tmp_path: Path,
) -> None:
    with harness(tmp_path, _waiting_population(), staff=_staff()) as h:
        h.receiver.handoff_mode = True
        attempt_a, sid_a = h.call(PATIENT_A)
        attempt_b, sid_b = h.call(PATIENT_B, status_events=ALL_EVENTS)
        _queued(h, 2)
        handoff_b = h.receiver.handoffs[attempt_b]

        leg = h.ring_handler("client:sim_handler_2", 7, f"queue:{handoff_b}", events=ALL_EVENTS)
        patient = _ended(h, sid_b)
        handler = _ended(h, leg)

        [bridged] = h.receiver.of_kind("bridged", "/offer/7/")
        assert bridged.form["CallSid"] == sid_b
        assert bridged.form["DequeingCallSid"] == leg
        assert bridged.signature_valid
        [dial_end] = h.receiver.of_kind("dial-end", "/offer/7/")
        assert dial_end.form["DialCallStatus"] == "completed"
        assert dial_end.form["DialCallDuration"] == "40"
        assert dial_end.form["DialCallSid"] == sid_b
        [result] = h.receiver.of_kind("result", f"/handoff/{handoff_b}/")
        assert result.form["QueueResult"] == "bridged"
        assert result.form["CallSid"] == sid_b
        assert (handler["status"], handler["ended_by"]) == ("completed", "handler_hung_up")
        assert patient["status"] == "completed"
        h.receiver.wait_for(lambda: len(h.receiver.of_kind("status", "/offer/7/")) == 4)
        h.receiver.wait_for(lambda: len(h.receiver.of_kind("status", attempt_b)) == 4)
        statuses = [s.form["CallStatus"] for s in h.receiver.of_kind("status", "/offer/7/")]
        assert statuses == ["initiated", "ringing", "in-progress", "completed"]
        patient_statuses = [s.form["CallStatus"] for s in h.receiver.of_kind("status", attempt_b)]
        assert patient_statuses[-1] == "completed"

        [bridge] = h.simulator.ledger("bridge")
        assert bridge["caller_sid"] == sid_b
        assert bridge["attempt_id"] == str(attempt_b)
        assert (bridge["identity"], bridge["handler_id"]) == ("sim_handler_2", 12)
        assert (bridge["handoff_id"], bridge["talk_s"], bridge["connected"]) == (
            handoff_b,
            40.0,
            True,
        )
        assert bridge["started_at"] < bridge["ended_at"]
        [handler_leg] = h.simulator.ledger("handler_leg")
        assert handler_leg["bridged"] and handler_leg["handoff_id"] == handoff_b
        # The other caller is still waiting, untouched.
        assert not h.receiver.of_kind("result", f"/handoff/{h.receiver.handoffs[attempt_a]}/")
        assert not any(e["sid"] == sid_a for e in h.simulator.ledger("call"))


def test_after_wrap_up_the_handler_posts_the_outcome_and_answers_the_next_call(
    tmp_path: Path,
) -> None:
    with harness(tmp_path, _waiting_population(), staff=_staff()) as h:
        h.receiver.handoff_mode = True
        attempt, _ = h.call(PATIENT_A)
        _queued(h, 1)
        handoff = h.receiver.handoffs[attempt]
        h.receiver.console_wrap_up[11] = handoff  # the console shows the call's outcome form
        leg = h.ring_handler("client:sim_handler_1", 8, f"queue:{handoff}")
        _ended(h, leg)
        h.receiver.wait_for(lambda: bool(h.receiver.console_posts("outcome")))

        [post] = h.receiver.console_posts("outcome")
        assert post.path == "/api/console/11/outcome"
        assert post.json is not None
        assert post.json["handoff_id"] == handoff
        assert post.json["outcome"] in {
            "booked",
            "declined",
            "callback",
            "wrong_number",
            "not_patient",
            "other",
        }
        if post.json["outcome"] == "booked":
            assert post.json["booked_for"] and post.json["clinic"]
        [wrap_up] = h.simulator.ledger("wrap_up")
        assert wrap_up["identity"] == "sim_handler_1" and wrap_up["handoff_id"] == handoff
        assert wrap_up["seconds"] == 8.0
        h.receiver.wait_for(lambda: len(h.simulator.ledger("handler_post")) == 3)
        [outcome] = [e for e in h.simulator.ledger("handler_post") if e["purpose"] == "outcome"]
        assert (outcome["status"], outcome["handler_id"]) == (200, 11)

        # Available again: the next call to the same handler is answered, not busy.
        attempt_2, _ = h.call(PATIENT_B)
        h.receiver.wait_for(lambda: attempt_2 in h.receiver.handoffs)
        _queued(h, 2)
        again = h.ring_handler("client:sim_handler_1", 9, f"queue:{h.receiver.handoffs[attempt_2]}")
        assert _ended(h, again)["status"] == "completed"
        assert len(h.simulator.ledger("bridge")) == 2


def test_the_handler_records_the_outcome_only_once_the_console_shows_the_call_ended(
    tmp_path: Path,
) -> None:
    with harness(tmp_path, _waiting_population(), staff=_staff()) as h:
        h.receiver.handoff_mode = True
        attempt, _ = h.call(PATIENT_A)
        _queued(h, 1)
        handoff = h.receiver.handoffs[attempt]
        # The call has ended at the carrier, but the engine has not applied its end yet.
        h.receiver.console_connected[11] = handoff
        leg = h.ring_handler("client:sim_handler_1", 8, f"queue:{handoff}")
        _ended(h, leg)
        h.receiver.wait_for(lambda: h.receiver.console_looks(11) >= 2)
        # Then the end is applied: the console shows the call in wrap-up, its form appears.
        del h.receiver.console_connected[11]
        assert h.receiver.console_posts("outcome") == []
        h.receiver.console_wrap_up[11] = handoff
        h.receiver.wait_for(lambda: bool(h.receiver.console_posts("outcome")))

        [post] = h.receiver.console_posts("outcome")
        assert post.json is not None and post.json["handoff_id"] == handoff


def test_a_handler_who_does_not_answer_rings_out_then_comes_back_available(
    tmp_path: Path,
) -> None:
    with harness(tmp_path, staff=_staff(no_answer_rate=1.0)) as h:
        h.receiver.wait_for(lambda: len(h.receiver.console_posts("state")) == 2)
        leg = h.ring_handler("client:sim_handler_1", 5, "queue:1", ring_timeout_s=20)
        entry = _ended(h, leg)
        assert entry["status"] == "no-answer"
        assert not h.receiver.of_kind("answer", "/offer/5/")
        h.receiver.wait_for(lambda: bool(h.receiver.of_kind("status", "/offer/5/")))
        [status] = h.receiver.of_kind("status", "/offer/5/")
        assert status.form["CallStatus"] == "no-answer"
        h.receiver.wait_for(lambda: len(h.receiver.console_posts("state")) == 3)
        back = h.receiver.console_posts("state")[-1]
        assert (back.path, back.json) == ("/api/console/11/state", {"state": "available"})
        [missed] = h.simulator.ledger("handler_leg")
        assert (missed["answered"], missed["status"]) == (False, "no-answer")
        h.receiver.wait_for(lambda: len(h.simulator.ledger("handler_post")) == 3)
        assert [e["purpose"] for e in h.simulator.ledger("handler_post")][-1] == "back_available"


@pytest.mark.parametrize("endpoint", ["client:somebody_else", "sip:someone@pbx.example.org"])
def test_an_identity_that_is_not_a_simulated_handler_never_answers(
    tmp_path: Path, endpoint: str
) -> None:
    with harness(tmp_path, staff=_staff()) as h:
        leg = h.ring_handler(endpoint, 6, "queue:1", ring_timeout_s=15)
        entry = _ended(h, leg)
        assert (entry["status"], entry["ring_s"]) == ("no-answer", 15.0)
        [missed] = h.simulator.ledger("handler_leg")
        assert missed["simulated"] is False


def test_dialling_an_empty_queue_waits_the_dial_timeout_then_no_answer(tmp_path: Path) -> None:
    with harness(tmp_path, _waiting_population(), staff=_staff()) as h:
        h.receiver.handoff_mode = True
        h.receiver.handoff_hold_rounds = 0  # the patient leaves at once: queue exists, empty
        attempt, sid = h.call(PATIENT_A)
        _ended(h, sid)
        handoff = h.receiver.handoffs[attempt]

        leg = h.ring_handler("client:sim_handler_1", 3, f"queue:{handoff}")
        entry = _ended(h, leg)
        [dial_end] = h.receiver.of_kind("dial-end", "/offer/3/")
        assert dial_end.form["DialCallStatus"] == "no-answer"
        assert dial_end.form["DialCallDuration"] == "0"
        assert "DialCallSid" not in dial_end.form
        assert entry["ended_by"] == "twiml_hangup"
        assert entry["duration_s"] >= 5  # the receiver's Dial timeout
        assert not h.receiver.of_kind("bridged")
        assert not h.simulator.ledger("bridge")


def test_a_caller_dequeued_while_their_wait_url_is_asked_is_bridged_whatever_it_answers(
    tmp_path: Path,
) -> None:
    """As on Twilio, the caller is in the queue until the wait URL's TwiML runs: a handler's
    ``<Dial><Queue>`` that takes them meanwhile bridges them, and the ``<Leave/>`` the wait URL
    then answers comes too late. (So our ACD never gives both for one patient.)"""
    with harness(tmp_path, _waiting_population(), staff=_staff()) as h:
        h.receiver.handoff_mode = True
        h.receiver.handoff_hold_rounds = 1  # the second wait request answers <Leave/>

        def handler_takes_them_meanwhile(handoff: int, round_number: int) -> None:
            if round_number != 2:
                return
            h.ring_handler("client:sim_handler_1", 9, f"queue:{handoff}")
            h.receiver.wait_for(lambda: h.simulator.stats()["queues"]["callers_waiting"] == 0)

        h.receiver.on_wait = handler_takes_them_meanwhile
        attempt, sid = h.call(PATIENT_A)
        _ended(h, sid)
        handoff = h.receiver.handoffs[attempt]

        assert len(h.receiver.of_kind("wait", f"/handoff/{handoff}/")) == 2
        [bridged] = h.receiver.of_kind("bridged", "/offer/9/")
        assert bridged.form["CallSid"] == sid
        [result] = h.receiver.of_kind("result", f"/handoff/{handoff}/")
        assert result.form["QueueResult"] == "bridged"
        [leave] = h.simulator.ledger("queue_leave")
        assert leave["result"] == "bridged"
        [bridge] = h.simulator.ledger("bridge")
        assert bridge["connected"] and bridge["handoff_id"] == handoff


def test_dialling_a_queue_nobody_ever_created_fails_at_once(tmp_path: Path) -> None:
    with harness(tmp_path, staff=_staff()) as h:
        leg = h.ring_handler("client:sim_handler_2", 4, "queue:999")
        _ended(h, leg)
        [dial_end] = h.receiver.of_kind("dial-end", "/offer/4/")
        assert dial_end.form["DialCallStatus"] == "failed"


def test_a_patient_who_hangs_up_while_the_handler_is_being_connected_ends_the_bridge(
    tmp_path: Path,
) -> None:
    population = quiet_population(
        keypad_weights={"1": 1.0}, wait_callback_rate=0.0, queue_patience_s=(25.0, 25.0)
    )
    with harness(tmp_path, population, staff=_staff(answer_delay_s=(30.0, 30.0))) as h:
        h.receiver.handoff_mode = True
        attempt, sid = h.call(PATIENT_A)
        _queued(h, 1)
        handoff = h.receiver.handoffs[attempt]
        leg = h.ring_handler("client:sim_handler_1", 2, f"queue:{handoff}", ring_timeout_s=60)
        _ended(h, sid)
        [result] = h.receiver.of_kind("result", f"/handoff/{handoff}/")
        assert result.form["QueueResult"] == "hangup"
        _ended(h, leg)
        [dial_end] = h.receiver.of_kind("dial-end", "/offer/2/")
        assert dial_end.form["DialCallStatus"] == "no-answer"  # the queue was empty by then


def test_a_handler_can_dial_a_patient_number_and_records_the_outcome_from_the_console(
    tmp_path: Path,
) -> None:
    with harness(tmp_path, staff=_staff()) as h:
        h.receiver.console_wrap_up[12] = 555  # "call this patient now": no queue, ask the console
        leg = h.ring_handler("client:sim_handler_2", 10, f"number:{PATIENT_B}")
        _ended(h, leg)
        [dial_end] = h.receiver.of_kind("dial-end", "/offer/10/")
        assert dial_end.form["DialCallStatus"] == "completed"
        assert dial_end.form["DialCallDuration"] == "40"
        [dialled] = h.simulator.ledger("dial_leg")
        assert (dialled["to"], dialled["status"], dialled["parent_sid"]) == (
            PATIENT_B,
            "completed",
            leg,
        )
        assert dialled["sid"] == dial_end.form["DialCallSid"]
        [bridged] = h.receiver.of_kind("bridged", "/offer/10/")
        assert bridged.form["CallSid"] == dialled["sid"] and bridged.signature_valid
        h.receiver.wait_for(lambda: bool(h.receiver.console_posts("outcome")))
        [post] = h.receiver.console_posts("outcome")
        assert post.json is not None and post.json["handoff_id"] == 555


def test_a_client_identity_twilio_would_refuse_is_refused_with_21211(tmp_path: Path) -> None:
    with harness(tmp_path, staff=_staff()) as h:
        url = f"{h.simulator.base_url}/2010-04-01/Accounts/{ACCOUNT_SID}/Calls.json"
        for bad in ("client:sim-handler-1", "client:", "tel:+447700900301", "sip:nohost"):
            reply = requests.post(
                url,
                data={"To": bad, "From": OUR_NUMBER, "Url": "https://example.org/a"},
                auth=(ACCOUNT_SID, AUTH_TOKEN),
                timeout=10,
            )
            assert (reply.status_code, reply.json()["code"]) == (400, 21211), bad


def _plans(seed: int) -> list[tuple[Any, ...]]:
    ledger = Ledger(None)
    with ThreadPoolExecutor(1) as pool:
        scheduler = Scheduler(SimTime(1.0), pool)
        staff = Staff(
            StaffConfig(count=4),
            seed=seed,
            ledger=ledger,
            scheduler=scheduler,
            stopping=__import__("threading").Event(),
            console_base_url="http://127.0.0.1:9",
        )
        plans: list[tuple[Any, ...]] = []
        for _ in range(5):
            for number in range(1, 5):
                plan, leg = staff.plan_leg(f"client:sim_handler_{number}", 20)
                plans.append(
                    (
                        plan.outcome,
                        round(plan.ring_s, 3),
                        round(leg.talk_s, 3),
                        round(leg.wrap_up_s, 3),
                    )
                )
        handler = staff.handlers["sim_handler_1"]
        plans += [tuple(sorted(staff.outcome_payload(handler, index))) for index in range(20)]
        plans += [(staff.outcome_payload(handler, index)["outcome"],) for index in range(20)]
        scheduler.stop()
    return plans


def test_the_simulated_handlers_and_the_wait_choices_are_deterministic_per_seed() -> None:
    assert _plans(3) == _plans(3)
    assert _plans(3) != _plans(4)
    outcomes = [row[0] for row in _plans(3)[-20:]]
    assert outcomes.count("booked") >= 10  # mostly booked
    population = Population(quiet_population(wait_callback_rate=0.5), seed=5)
    same = Population(quiet_population(wait_callback_rate=0.5), seed=5)
    moment = __import__("datetime").datetime(2026, 11, 27, 10, 0)
    choices = [
        population.plan_call(f"+4477009004{n:02d}", 0, moment, ring_timeout_s=60).wait_digit
        for n in range(40)
    ]
    again = [
        same.plan_call(f"+4477009004{n:02d}", 0, moment, ring_timeout_s=60).wait_digit
        for n in range(40)
    ]
    assert choices == again
    assert 5 <= choices.count("1") <= 35


def test_a_simulated_handler_books_call_backs_inside_calling_hours_only() -> None:
    friday_evening = datetime(2026, 12, 4, 17, 30, tzinfo=UTC)  # a weekend follows
    staff = Staff(
        StaffConfig(count=1, outcome_weights={"callback": 1.0}),
        seed=3,
        ledger=Ledger(None),
        scheduler=cast(Any, None),
        stopping=threading.Event(),
        console_base_url="http://127.0.0.1:1",
    )
    (handler,) = staff.handlers.values()
    window = CallingWindow()

    with frozen_at(friday_evening):
        times = [
            datetime.fromisoformat(staff.outcome_payload(handler, index)["callback_at"])
            for index in range(40)
        ]

    assert all(window.is_open(moment) and moment > friday_evening for moment in times)
