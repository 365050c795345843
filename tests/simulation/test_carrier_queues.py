"""Named queues in the carrier simulator: positions, Gather in the wait, leaving, hanging up."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

from tests.simulation.carrier_support import Harness, harness, quiet_population

PATIENTS = ("+447700900201", "+447700900202", "+447700900203")


def _finished(h: Harness, sid: str) -> dict[str, Any]:
    h.receiver.wait_for(lambda: any(e["sid"] == sid for e in h.simulator.ledger("call")))
    entry: dict[str, Any] = next(e for e in h.simulator.ledger("call") if e["sid"] == sid)
    return entry


def _same_pace(**overrides: Any) -> Any:
    values: dict[str, Any] = {
        "keypad_weights": {"1": 1.0},
        "ring_time_sigma": 0.0,
        "keypad_delay_s": (1.0, 1.0),
        "wait_callback_rate": 0.0,
    }
    values.update(overrides)
    return quiet_population(**values)


def test_callers_in_one_named_queue_are_told_their_own_position_and_the_queue_size(
    tmp_path: Path,
) -> None:
    with harness(tmp_path, _same_pace()) as h:
        h.receiver.hold_rounds = 6
        placed = [h.call(number) for number in PATIENTS]
        for _, sid in placed:
            _finished(h, sid)

        joins = h.simulator.ledger("queue_join")
        assert [j["queue"] for j in joins] == ["booking-team"] * 3
        order = [j["sid"] for j in joins]
        first = next(attempt for attempt, sid in placed if sid == order[0])
        waits = h.receiver.of_kind("wait")
        assert max(int(w.form["CurrentQueueSize"]) for w in waits) == 3
        assert all(
            1 <= int(w.form["QueuePosition"]) <= int(w.form["CurrentQueueSize"]) for w in waits
        )
        assert {int(w.form["QueuePosition"]) for w in waits} == {1, 2, 3}
        assert all(w.form["QueuePosition"] == "1" for w in h.receiver.of_kind("wait", first))
        assert {w.form["QueueSid"] for w in waits} == {joins[0]["queue_sid"]}
        assert any(int(w.form["AvgQueueTime"]) > 0 for w in waits)
        for attempt, _ in placed:  # a caller's place only ever improves
            positions = [int(w.form["QueuePosition"]) for w in h.receiver.of_kind("wait", attempt)]
            assert positions == sorted(positions, reverse=True)
        leaves = h.simulator.ledger("queue_leave")
        assert sorted(e["result"] for e in leaves) == ["leave"] * 3


def test_a_caller_who_presses_one_in_the_wait_asks_for_a_callback_and_the_call_ends(
    tmp_path: Path,
) -> None:
    population = _same_pace(wait_callback_rate=1.0, wait_callback_after_s=(0.0, 0.0))
    with harness(tmp_path, population) as h:
        h.receiver.handoff_mode = True
        attempt, sid = h.call(PATIENTS[0])
        entry = _finished(h, sid)

        handoff = h.receiver.handoffs[attempt]
        [wait] = h.receiver.of_kind("wait", f"/handoff/{handoff}/")
        assert wait.form["QueuePosition"] == "1"
        [choice] = h.receiver.of_kind("wait-choice", f"/handoff/{handoff}/")
        assert choice.form["Digits"] == "1"
        assert choice.signature_valid
        [result] = h.receiver.of_kind("result", f"/handoff/{handoff}/")
        assert result.form["QueueResult"] == "hangup"
        assert entry["digits"] == ["1", "1"]
        assert entry["ended_by"] == "twiml_hangup"
        [leave] = h.simulator.ledger("queue_leave")
        assert leave["result"] == "hangup"
        assert leave["queue"] == f"handoff-{handoff}"


def test_a_caller_who_never_presses_hears_the_wait_again_until_leave_then_the_action(
    tmp_path: Path,
) -> None:
    with harness(tmp_path, _same_pace()) as h:
        h.receiver.handoff_mode = True
        h.receiver.handoff_hold_rounds = 2
        attempt, sid = h.call(PATIENTS[0])
        entry = _finished(h, sid)

        handoff = h.receiver.handoffs[attempt]
        waits = h.receiver.of_kind("wait", f"/handoff/{handoff}/")
        assert len(waits) == 3
        times = [int(w.form["QueueTime"]) for w in waits]
        assert times == sorted(times) and times[-1] > 0
        assert not h.receiver.of_kind("wait-choice")
        [result] = h.receiver.of_kind("result", f"/handoff/{handoff}/")
        assert result.form["QueueResult"] == "leave"
        assert int(result.form["QueueTime"]) >= times[-1]
        assert entry["ended_by"] == "twiml_hangup"


def test_a_caller_who_runs_out_of_patience_hangs_up_and_the_action_hears_hangup(
    tmp_path: Path,
) -> None:
    with harness(tmp_path, _same_pace(queue_patience_s=(30.0, 30.0))) as h:
        h.receiver.handoff_mode = True
        attempt, sid = h.call(PATIENTS[0], status_events=("completed",))
        entry = _finished(h, sid)

        handoff = h.receiver.handoffs[attempt]
        [result] = h.receiver.of_kind("result", f"/handoff/{handoff}/")
        assert result.form["QueueResult"] == "hangup"
        assert 29 <= int(result.form["QueueTime"]) <= 31
        assert entry["ended_by"] == "callee_hung_up"
        [leave] = h.simulator.ledger("queue_leave")
        assert (leave["result"], leave["ended_by"]) == ("hangup", "callee_hung_up")
        h.receiver.wait_for(lambda: len(h.receiver.of_kind("status", attempt)) == 1)
        assert h.receiver.of_kind("status", attempt)[0].form["CallStatus"] == "completed"


def test_wait_requests_are_signed_and_name_no_patient(tmp_path: Path) -> None:
    with harness(tmp_path, _same_pace()) as h:
        h.receiver.handoff_mode = True
        h.receiver.handoff_hold_rounds = 1
        attempt, sid = h.call(PATIENTS[1])
        _finished(h, sid)
        handoff = h.receiver.handoffs[attempt]
        requests = h.receiver.of_kind("wait", f"/handoff/{handoff}/")
        assert requests and all(r.signature_valid for r in requests)
        assert isinstance(attempt, uuid.UUID)
