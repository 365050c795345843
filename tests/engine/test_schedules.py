"""When the demo's simulated clock may jump: only over quiet time, to the next thing due."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine

from rmc_outreach.config import Settings
from rmc_outreach.db import session_scope
from rmc_outreach.models import AttemptState, ReferralStatus
from rmc_outreach.schedules import clock_jump_target
from tests.engine.support import engine_config_for
from tests.factories import create_attempt, create_referral

WEDNESDAY_10AM = datetime(2026, 11, 25, 10, 0, tzinfo=UTC)


def test_an_idle_open_window_jumps_to_the_next_referral_due(
    database: Engine, settings: Settings
) -> None:
    config = engine_config_for(settings)
    due = WEDNESDAY_10AM + timedelta(hours=4, minutes=30)
    with session_scope() as session:
        create_referral(session, status=ReferralStatus.IN_OUTREACH, next_action_at=due)
        create_referral(session, status=ReferralStatus.REACHED, next_action_at=WEDNESDAY_10AM)
    with session_scope() as session:
        assert clock_jump_target(session, config, WEDNESDAY_10AM) == due


def test_the_clock_does_not_jump_while_an_attempt_is_queued_or_live(
    database: Engine, settings: Settings
) -> None:
    config = engine_config_for(settings)
    later = WEDNESDAY_10AM + timedelta(hours=2)
    with session_scope() as session:
        create_referral(session, status=ReferralStatus.IN_OUTREACH, next_action_at=later)
        # Queued by dispatch: the step is under way, so the referral has no next action yet.
        referral = create_referral(session, status=ReferralStatus.IN_OUTREACH)
        attempt = create_attempt(session, referral, state=AttemptState.PENDING)
    with session_scope() as session:
        assert clock_jump_target(session, config, WEDNESDAY_10AM) is None
    with session_scope() as session:
        session.get_one(type(attempt), attempt.id).state = AttemptState.FINAL
    with session_scope() as session:
        assert clock_jump_target(session, config, WEDNESDAY_10AM) == later


def test_something_due_in_a_minute_is_left_to_real_time(
    database: Engine, settings: Settings
) -> None:
    config = engine_config_for(settings)
    with session_scope() as session:
        create_referral(
            session,
            status=ReferralStatus.IN_OUTREACH,
            next_action_at=WEDNESDAY_10AM + timedelta(seconds=30),
        )
    with session_scope() as session:
        assert clock_jump_target(session, config, WEDNESDAY_10AM) is None


def test_a_due_time_outside_the_window_jumps_to_its_opening(
    database: Engine, settings: Settings
) -> None:
    config = engine_config_for(settings)
    saturday = datetime(2026, 11, 28, 11, 0, tzinfo=UTC)
    with session_scope() as session:
        create_referral(session, status=ReferralStatus.IN_OUTREACH, next_action_at=saturday)
    with session_scope() as session:
        target = clock_jump_target(session, config, WEDNESDAY_10AM)
    assert target == datetime(2026, 11, 30, 8, 0, tzinfo=UTC)


def test_the_clock_waits_for_a_due_print_batch_before_moving_on(
    database: Engine, settings: Settings
) -> None:
    from rmc_outreach.letters import cut_print_batch, prepare_letter
    from rmc_outreach.models import Channel

    config = engine_config_for(settings)
    after_cut_time = datetime(2026, 11, 25, 16, 30, tzinfo=UTC)  # Wednesday, after 16:00
    with session_scope() as session:
        referral = create_referral(session, status=ReferralStatus.EXHAUSTED)
        attempt = create_attempt(session, referral, channel=Channel.LETTER, state=AttemptState.SENT)
    with session_scope() as session:
        prepare_letter(session, attempt.id)
    with session_scope() as session:
        assert clock_jump_target(session, config, after_cut_time) is None
    with session_scope() as session:
        cut_print_batch(session, day=after_cut_time.date(), output_dir=settings.var_dir)
    with session_scope() as session:
        assert clock_jump_target(session, config, after_cut_time) is None  # nothing left


WEDNESDAY_EVENING = datetime(2026, 11, 25, 18, 30, tzinfo=UTC)
THURSDAY_8AM = datetime(2026, 11, 26, 8, 0, tzinfo=UTC)


def test_a_call_deferred_as_the_window_closed_lets_the_clock_jump_to_its_time(
    database: Engine, settings: Settings
) -> None:
    config = engine_config_for(settings)
    with session_scope() as session:
        # A worker found the window closing: the attempt stays pending, the referral deferred.
        referral = create_referral(
            session, status=ReferralStatus.IN_OUTREACH, next_action_at=THURSDAY_8AM
        )
        create_attempt(session, referral, state=AttemptState.PENDING)
    with session_scope() as session:
        assert clock_jump_target(session, config, WEDNESDAY_EVENING) == THURSDAY_8AM


def test_a_requested_text_deferred_overnight_stops_the_jump_at_the_next_opening(
    database: Engine, settings: Settings
) -> None:
    from rmc_outreach.models import Channel

    config = engine_config_for(settings)
    afternoon = THURSDAY_8AM + timedelta(hours=6)
    with session_scope() as session:
        create_referral(session, status=ReferralStatus.IN_OUTREACH, next_action_at=afternoon)
        reached = create_referral(session, status=ReferralStatus.REACHED)
        create_attempt(
            session,
            reached,
            channel=Channel.SMS,
            template="how_to_book",
            state=AttemptState.PENDING,
        )
    with session_scope() as session:
        assert clock_jump_target(session, config, WEDNESDAY_EVENING) == THURSDAY_8AM
    with session_scope() as session:  # inside the window the text is work in hand
        assert clock_jump_target(session, config, THURSDAY_8AM + timedelta(hours=1)) is None


def test_a_call_released_after_the_window_closed_lets_the_clock_jump_to_the_opening(
    database: Engine, settings: Settings
) -> None:
    config = engine_config_for(settings)
    with session_scope() as session:
        # The sweeper released a call whose worker died: due "now", but now is the evening.
        referral = create_referral(
            session,
            status=ReferralStatus.IN_OUTREACH,
            next_action_at=WEDNESDAY_EVENING - timedelta(minutes=5),
        )
        create_attempt(session, referral, state=AttemptState.PENDING)
    with session_scope() as session:
        assert clock_jump_target(session, config, WEDNESDAY_EVENING) == THURSDAY_8AM
    with session_scope() as session:  # inside the window it is work for dispatch right now
        assert clock_jump_target(session, config, THURSDAY_8AM + timedelta(minutes=1)) is None
