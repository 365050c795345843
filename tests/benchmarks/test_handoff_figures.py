"""The handoff benchmark's figures, checked exactly against a known history."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine

from benchmarks.handoff_parts.figures import handoff_figures, percentile
from rmc_outreach import handlers
from rmc_outreach.calendar import CallingWindow
from rmc_outreach.clock import frozen_at
from rmc_outreach.db import session_scope
from rmc_outreach.models import AttemptOutcome, AttemptState, HandlerState, Handoff, ReferralStatus
from tests.factories import create_attempt, create_referral

# Monday 30 November 2026: London is on UTC, the window is 08:00-18:00.
MONDAY_9AM = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)
WINDOW = CallingWindow()


def _answered_call(
    status: ReferralStatus, *, wait_s: float | None, bridged: bool, abandoned: bool = False
) -> None:
    with session_scope() as session:
        referral = create_referral(session, status=status)
        attempt = create_attempt(
            session,
            referral,
            state=AttemptState.FINAL,
            outcome=AttemptOutcome.HUMAN_HANDOFF
            if wait_s is not None
            else AttemptOutcome.IVR_CHOICE,
            answered_by="human",
            created_at=MONDAY_9AM,
        )
        if wait_s is None:
            return
        queued = MONDAY_9AM + timedelta(seconds=30)
        until = queued + timedelta(seconds=wait_s)
        session.add(
            Handoff(
                attempt_id=attempt.id,
                referral_id=referral.id,
                queued_at=queued,
                connected_at=until if bridged else None,
                ended_at=until + timedelta(minutes=4) if bridged else until,
                abandoned=abandoned,
            )
        )


def test_every_figure_of_a_known_morning(database: Engine) -> None:
    # Ten live-answered calls: 4 bridged after 5, 10, 15 and 40 s; one abandoned after 60 s;
    # five chose another option. One referral was never reached.
    for wait in (5.0, 10.0, 15.0, 40.0):
        _answered_call(ReferralStatus.BOOKED, wait_s=wait, bridged=True)
    _answered_call(ReferralStatus.REACHED, wait_s=60.0, bridged=False, abandoned=True)
    for _ in range(5):
        _answered_call(ReferralStatus.REACHED, wait_s=None, bridged=False)
    with session_scope() as session:
        create_referral(session, status=ReferralStatus.EXHAUSTED)
    # One handler: signed in 07:00 (one hour before the window opens), available until 09:00,
    # then 2 h on calls and wrapping up, then 1 h available, then signed out at 12:00.
    with session_scope() as session:
        with frozen_at(MONDAY_9AM - timedelta(hours=2)):
            handler = handlers.create_handler(session, None, "Handler 1", "client:h1")
            handlers.change_state(session, handler.id, HandlerState.AVAILABLE)
        for hours, state in (
            (0.0, HandlerState.RINGING),
            (0.01, HandlerState.ON_CALL),
            (1.5, HandlerState.WRAP_UP),
            (2.0, HandlerState.AVAILABLE),
            (3.0, HandlerState.OFFLINE),
        ):
            with frozen_at(MONDAY_9AM + timedelta(hours=hours)):
                handlers.change_state(session, handler.id, state)

    with session_scope(read_only=True) as session:
        figures = handoff_figures(
            session, WINDOW, MONDAY_9AM - timedelta(hours=3), MONDAY_9AM + timedelta(hours=9)
        )

    assert (figures.live_answered, figures.abandoned) == (10, 1)
    assert figures.abandoned_rate == 0.1
    assert figures.abandoned_rate_worst_day == 0.1
    assert figures.days == [
        {"date": MONDAY_9AM.date().isoformat(), "live_answered": 10, "abandoned": 1, "rate": 0.1}
    ]
    assert (figures.handoffs, figures.bridged) == (5, 4)
    assert figures.wait_median_s == 15.0  # 5, 10, 15, 40, 60
    assert figures.wait_p90_s == percentile([5.0, 10.0, 15.0, 40.0, 60.0], 0.9) == 52.0
    # Signed in 08:00-12:00 inside the window (07:00-08:00 is outside it): 4 h; busy 2 h.
    assert (figures.busy_hours, figures.signed_in_hours) == (2.0, 4.0)
    assert figures.occupancy == figures.occupancy_calling_hours == 0.5
    with session_scope(read_only=True) as session:
        # Only 08:30-10:00 had calls waiting to be dialled: 1 h busy of 1.5 h signed in.
        worked = handoff_figures(
            session,
            WINDOW,
            MONDAY_9AM - timedelta(hours=3),
            MONDAY_9AM + timedelta(hours=9),
            [(MONDAY_9AM - timedelta(minutes=30), MONDAY_9AM + timedelta(hours=1))],
        )
    assert (worked.busy_hours, worked.signed_in_hours, worked.occupancy) == (1.0, 1.5, 0.667)
    assert worked.occupancy_calling_hours == 0.5
    assert (figures.referrals, figures.reach_rate) == (11, round(10 / 11, 3))


def test_percentile_of_one_value_and_of_none() -> None:
    assert percentile([7.0], 0.9) == 7.0
    assert percentile([], 0.9) is None
