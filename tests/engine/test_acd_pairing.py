"""The ACD's pairing under concurrency: two workers never offer the same patient or handler."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from sqlalchemy import Engine

from rmc_outreach import handlers
from rmc_outreach.acd.connect import Ring, _pair_next
from rmc_outreach.clock import frozen_at
from rmc_outreach.db import session_scope
from rmc_outreach.engine_config import EngineConfig
from rmc_outreach.models import HandlerState, Handoff
from tests.engine.support import WEDNESDAY_10AM


def test_two_concurrent_postgresql_pairings_never_offer_the_same_patient_or_handler(
    database: Engine, config: EngineConfig, backend: str
) -> None:
    if backend != "postgresql":
        pytest.skip("FOR UPDATE SKIP LOCKED is PostgreSQL's; SQLite serialises writers")
    with frozen_at(WEDNESDAY_10AM - timedelta(minutes=10)), session_scope() as session:
        for index in range(2):
            handler = handlers.create_handler(session, None, f"H{index}", f"client:h{index}")
            handlers.change_state(session, handler.id, HandlerState.AVAILABLE)
        for seconds in (30, 20):
            session.add(Handoff(queued_at=WEDNESDAY_10AM - timedelta(seconds=seconds)))
    first_locked, release_first = threading.Event(), threading.Event()
    pairs: dict[str, Ring | None] = {}

    def first_worker() -> None:
        with frozen_at(WEDNESDAY_10AM), session_scope() as session:
            pairs["first"] = _pair_next(session, config)
            first_locked.set()
            release_first.wait(timeout=30)

    thread = threading.Thread(target=first_worker)
    thread.start()
    assert first_locked.wait(timeout=30)
    with frozen_at(WEDNESDAY_10AM), session_scope() as session:
        pairs["second"] = _pair_next(session, config)
    release_first.set()
    thread.join()

    first, second = pairs["first"], pairs["second"]
    assert first is not None and second is not None
    assert first.handoff_id != second.handoff_id
    assert first.handler_id != second.handler_id
