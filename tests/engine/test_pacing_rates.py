"""Pacing's measured rates count a call as soon as its answer (or its choice) is known, not only
once it has ended: the calls that end first are the unanswered ones."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

from sqlalchemy import Engine

from rmc_outreach import pacing
from rmc_outreach.db import session_scope
from rmc_outreach.engine_config import EngineConfig
from rmc_outreach.models import AttemptState
from rmc_outreach.pacing import decide
from tests.engine.support import WEDNESDAY_10AM
from tests.engine.test_pacing import add_call, inputs


def _call(seconds_ago: float, state: AttemptState, **details: object) -> None:
    add_call(WEDNESDAY_10AM - timedelta(seconds=seconds_ago), state=state, **details)  # type: ignore[arg-type]


def test_the_start_of_a_shift_reads_answered_calls_in_flight_not_only_the_unanswered_that_ended(
    database: Engine, config: EngineConfig
) -> None:
    # A minute into a shift: 8 calls have ended unanswered (no answer, a machine), while 8 that
    # people answered are still in flight: 4 pressed 1 (waiting or talking), 2 pressed 2, 2 are
    # still hearing the greeting; 4 more still ring.
    for n in range(6):
        _call(60 + n, AttemptState.FINAL)
    for n in range(2):
        _call(50 + n, AttemptState.FINAL, answered_by="machine_end_beep")
    for n in range(4):
        _call(55 + n, AttemptState.SENT, answered_by="human", keypad_choice="1", handoff=False)
    for n in range(2):
        _call(55 + n, AttemptState.SENT, answered_by="human", keypad_choice="2")
    for n in range(2):
        _call(40 + n, AttemptState.SENT, answered_by="human")
    for n in range(4):
        _call(20 + n, AttemptState.SENT)
    with session_scope() as session:
        gathered = pacing.gather_inputs(session, config, WEDNESDAY_10AM)
    # Answer known for 16 calls, 8 of them live; choice known for 6 of the 8, 4 handed off.
    # Counting ended calls only would have read 0 of 8 answered.
    assert gathered.measured_calls == 16
    assert gathered.answer_rate == pacing.smoothed_rate(8, 16, pacing.ANSWER_RATE_PRIOR)
    assert gathered.speak_rate == pacing.smoothed_rate(4, 6, pacing.SPEAK_RATE_PRIOR)
    # In flight and undecided: the 4 ringing and the 2 hearing the greeting (answered).
    assert (gathered.calls_undecided, gathered.calls_answered_undecided) == (6, 2)


def test_a_person_hearing_the_greeting_weighs_as_1_over_the_answer_rate_calls() -> None:
    # 2 free handlers at 4 calls each (answer and speak rates 0.5): 8 calls' worth.
    ringing = inputs(calls_in_flight=4, calls_undecided=4)
    answered = inputs(calls_in_flight=4, calls_undecided=4, calls_answered_undecided=2)
    # 4 ringing calls leave 4 to start; 2 ringing and 2 answered (2 calls' worth each) leave 2.
    assert pacing.undecided_load(answered, 4.0) == 6.0
    assert (decide(ringing).calls_allowed, decide(answered).calls_allowed) == (4, 2)
    # Never more than a free handler's share: one call per handler at the cap counts each as 1.
    assert pacing.undecided_load(answered, 1.0) == 4.0
    at_cap = inputs(
        handlers_available=5, calls_in_flight=4, calls_undecided=4, calls_answered_undecided=2
    )
    at_cap = replace(at_cap, abandoned_today=5)
    assert decide(at_cap).calls_allowed == 1
