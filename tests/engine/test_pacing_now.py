"""The live view's pacing lines: pacing's decision now, in a supervisor's words."""

from __future__ import annotations

from dataclasses import replace

from sqlalchemy import Engine

from rmc_outreach.clock import frozen_at
from rmc_outreach.db import session_scope
from rmc_outreach.engine_config import EngineConfig
from rmc_outreach.handlers import change_state, create_handler
from rmc_outreach.live_view.pacing_now import PacingNow, pacing_now
from rmc_outreach.models import HandlerState
from rmc_outreach.pacing import HoldReason
from tests.engine.support import WEDNESDAY_10AM, WEDNESDAY_EVENING

DIALLING = PacingNow(
    window_open=True,
    handlers_signed_in=True,
    calls_per_free_handler=3.456,
    calls_allowed=5,
    holding=None,
    one_to_one=False,
    abandoned_today=2,
    day_allowance=4.2,
)


def test_the_status_says_what_pacing_does_and_why() -> None:
    assert DIALLING.status == "3.5 calls per free handler: 5 more calls may start now."
    one = replace(DIALLING, calls_allowed=1)
    assert one.status == "3.5 calls per free handler: 1 more call may start now."
    held = replace(DIALLING, calls_allowed=0, holding=HoldReason.ABANDON_RISK)
    assert held.status == (
        "3.5 calls per free handler: holding, more calls would risk patients waiting with no "
        "handler."
    )
    at_limit = replace(
        DIALLING, calls_allowed=0, holding=HoldReason.ABANDON_CAP_REACHED, one_to_one=True
    )
    assert at_limit.status == (
        "One call per available handler (the day is near its abandoned-call limit): holding, "
        "every available handler already has a call."
    )
    first_calls = replace(DIALLING, calls_allowed=1, one_to_one=True, abandoned_today=0)
    assert first_calls.status == (
        "One call per available handler (too few calls expected today to risk one): "
        "1 more call may start now."
    )


def test_closed_paused_and_nobody_signed_in_come_before_the_ratio() -> None:
    closed = replace(DIALLING, window_open=False, holding=HoldReason.PAUSED)
    assert closed.status == "Not dialling: outside calling hours."
    paused = replace(DIALLING, calls_allowed=0, holding=HoldReason.PAUSED)
    assert paused.status == "Not dialling: outreach is paused."
    nobody = replace(DIALLING, handlers_signed_in=False, calls_allowed=0)
    assert nobody.status.startswith("No handler signed in: calls offer patients a call back")


def test_every_hold_reason_has_words() -> None:
    for reason in HoldReason:
        replace(DIALLING, calls_allowed=0, holding=reason).status  # noqa: B018


def test_pacing_now_reads_the_floor(database: Engine, config: EngineConfig) -> None:
    with frozen_at(WEDNESDAY_10AM), session_scope() as session:
        handler = create_handler(session, None, "Asha", "client:asha")
        change_state(session, handler.id, HandlerState.AVAILABLE)
    with session_scope() as session:
        morning = pacing_now(session, config, WEDNESDAY_10AM)
        evening = pacing_now(session, config, WEDNESDAY_EVENING)
    # One handler free and no call yet today: nothing says the day will have the calls to
    # absorb an abandoned one, so its first calls are one per available handler.
    assert (morning.window_open, morning.handlers_signed_in, morning.one_to_one) == (
        True,
        True,
        True,
    )
    assert (morning.calls_per_free_handler, morning.calls_allowed, morning.holding) == (
        1.0,
        1,
        None,
    )
    assert evening.status == "Not dialling: outside calling hours."
