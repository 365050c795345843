"""A referral paused by a supervisor: a worker defers its attempt (nothing is sent, the attempt
stays pending for dispatch to queue again once resumed), and dispatch claims no step of it."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import Engine

from rmc_outreach import attempts, dispatch, outreach
from rmc_outreach.clock import frozen_at
from rmc_outreach.db import session_scope
from rmc_outreach.engine_config import EngineConfig
from rmc_outreach.models import AttemptState, Channel, Referral, ReferralStatus
from rmc_outreach.progress import attempt_ids_of
from tests.engine.support import WEDNESDAY_10AM, FakeProvider
from tests.factories import create_attempt, create_referral


def test_a_worker_defers_the_attempt_of_a_paused_referral_and_sends_nothing(
    database: Engine, config: EngineConfig, provider: FakeProvider
) -> None:
    with session_scope() as session:
        referral = create_referral(
            session,
            status=ReferralStatus.IN_OUTREACH,
            journey_step=1,
            outreach_paused_at=WEDNESDAY_10AM - timedelta(minutes=1),
            outreach_pause_reason="patient in hospital",
        )
        attempt_id = create_attempt(session, referral).id
        referral_id = referral.id

    with frozen_at(WEDNESDAY_10AM):
        result = outreach.place_call(attempt_id, provider, config)

    assert result is outreach.WorkResult.DEFERRED
    assert provider.calls == []
    with session_scope(read_only=True) as session:
        assert attempts.get(session, attempt_id).state is AttemptState.PENDING
        assert session.get_one(Referral, referral_id).next_action_at == WEDNESDAY_10AM


def test_dispatch_claims_no_step_of_a_paused_referral(
    database: Engine, config: EngineConfig
) -> None:
    with session_scope() as session:
        paused = create_referral(
            session,
            status=ReferralStatus.IN_OUTREACH,
            next_action_at=WEDNESDAY_10AM - timedelta(minutes=5),
            next_channel=Channel.SMS,
            outreach_paused_at=WEDNESDAY_10AM - timedelta(hours=1),
            outreach_pause_reason="patient in hospital",
        ).id

    with frozen_at(WEDNESDAY_10AM), session_scope() as session:
        queued = dispatch.claim_due(session, config, WEDNESDAY_10AM)

    assert queued == []
    with session_scope(read_only=True) as session:
        assert attempt_ids_of(session, paused) == []
