"""The queue page's queries, read straight from the database (SQLite and PostgreSQL)."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import Engine

from rmc_outreach.clock import now
from rmc_outreach.db import session_scope
from rmc_outreach.models import Priority, ReferralStatus
from rmc_outreach.queue_view import count_by_status_and_priority, oldest_waiting, queue_snapshot
from tests.factories import create_referral


def test_the_oldest_list_stops_at_the_limit_and_fills_from_higher_priorities_first(
    database: Engine,
) -> None:
    today = now().date()
    with session_scope() as session:
        routine = [
            create_referral(session, referral_date=today - timedelta(days=100 + index))
            for index in range(4)
        ]
        urgent = create_referral(session, priority=Priority.URGENT, referral_date=today)
        two_week_wait = create_referral(
            session, priority=Priority.TWO_WEEK_WAIT, referral_date=today - timedelta(days=2)
        )
        oldest_routine = sorted(routine, key=lambda referral: referral.referral_date)

    with session_scope() as session:
        listed = oldest_waiting(session, today, limit=4)

    assert [item.ubrn for item in listed] == [
        two_week_wait.ubrn,
        urgent.ubrn,
        oldest_routine[0].ubrn,
        oldest_routine[1].ubrn,
    ]
    assert [item.days_waiting for item in listed] == [
        2,
        0,
        (today - oldest_routine[0].referral_date).days,
        (today - oldest_routine[1].referral_date).days,
    ]


def test_days_waiting_count_from_the_referral_date_to_the_given_day(database: Engine) -> None:
    today = now().date()
    with session_scope() as session:
        create_referral(session, referral_date=today - timedelta(days=40))

    with session_scope() as session:
        listed = oldest_waiting(session, today + timedelta(days=5))

    assert [item.days_waiting for item in listed] == [45]


def test_counts_cover_every_status_and_priority_with_zero_where_there_are_none(
    database: Engine,
) -> None:
    with session_scope() as session:
        create_referral(session, status=ReferralStatus.IN_OUTREACH, priority=Priority.URGENT)
        create_referral(session, status=ReferralStatus.IN_OUTREACH, priority=Priority.URGENT)
        create_referral(session, status=ReferralStatus.BOOKED)

    with session_scope() as session:
        counts = count_by_status_and_priority(session)
        snapshot = queue_snapshot(session, now().date())

    assert counts.count(ReferralStatus.IN_OUTREACH, Priority.URGENT) == 2
    assert counts.count(ReferralStatus.BOOKED, Priority.ROUTINE) == 1
    assert counts.count(ReferralStatus.WAITING, Priority.TWO_WEEK_WAIT) == 0
    assert counts.total == 3
    assert counts.total_open == 2
    assert counts.priority_total(Priority.ROUTINE, open_only=True) == 0
    as_dict = snapshot.counts.as_dict()
    assert set(as_dict["by_status"]) == {status.value for status in ReferralStatus}
    assert as_dict["by_status"]["cancelled"] == {"2ww": 0, "urgent": 0, "routine": 0, "total": 0}
    assert snapshot.oldest_waiting == ()
