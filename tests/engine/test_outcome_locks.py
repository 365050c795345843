"""A handler's outcome and the worker applying the same call's callbacks take their locks in one
order (referral, handoff, handler), so neither deadlocks the other on PostgreSQL."""

from __future__ import annotations

import threading
import time

import pytest
from sqlalchemy import Engine, select

from rmc_outreach.calendar import CallingWindow
from rmc_outreach.clock import frozen_at
from rmc_outreach.db import session_scope
from rmc_outreach.handlers import lock_handler
from rmc_outreach.handoff_outcomes import Outcome, OutcomeRequest, record_handoff_outcome
from rmc_outreach.models import Handoff, Referral
from tests.admin_ui.test_console_outcomes import NOW, make_wrap_up


def test_an_outcome_waits_for_a_worker_holding_the_referral_and_handoff_instead_of_deadlocking(
    database: Engine, backend: str
) -> None:
    if backend != "postgresql":
        pytest.skip("SQLite serialises writers (BEGIN IMMEDIATE): no row locks to order")
    with frozen_at(NOW):
        wrap = make_wrap_up()
    worker_locked, errors = threading.Event(), []

    def worker() -> None:
        # As events.apply_event and acd.apply do: the referral, then the handoff, then (a moment
        # later) the handler.
        try:
            with session_scope() as session:  # the clock is frozen by the test (not per thread)
                session.scalar(
                    select(Referral.id).where(Referral.id == wrap.referral_id).with_for_update()
                )
                session.scalar(
                    select(Handoff.id).where(Handoff.id == wrap.handoff_id).with_for_update()
                )
                worker_locked.set()
                time.sleep(0.5)  # the outcome arrives meanwhile
                lock_handler(session, wrap.handler_id)
        except Exception as error:  # reported by the assertion below
            errors.append(error)

    thread = threading.Thread(target=worker)
    # One frozen_at around both threads: entered and left in two threads at once, the clock's
    # frozen_at blocks can restore each other's time and leave it frozen for later tests.
    with frozen_at(NOW):
        thread.start()
        assert worker_locked.wait(timeout=30)
        try:
            with session_scope() as session:
                effect = record_handoff_outcome(
                    session,
                    wrap.handler_id,
                    wrap.handoff_id,
                    OutcomeRequest(Outcome.DECLINED),
                    CallingWindow(),
                )
        finally:
            thread.join(timeout=30)

    assert errors == []
    assert effect.referral_id == wrap.referral_id
    with session_scope(read_only=True) as session:
        assert session.get_one(Handoff, wrap.handoff_id).outcome == Outcome.DECLINED.value
