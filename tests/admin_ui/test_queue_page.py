"""The referral queue page and its JSON twin, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
import re
from collections import Counter
from datetime import timedelta
from typing import Any

from flask.testing import FlaskClient
from sqlalchemy import Engine

from rmc_outreach.clock import now
from rmc_outreach.db import session_scope
from rmc_outreach.models import OPEN_REFERRAL_STATUSES, Priority, ReferralStatus
from rmc_outreach.phones import mask_phone
from tests.admin_ui.pages import read_queue_page
from tests.factories import create_patient, create_referral

# (status, priority, how many) — a deliberately uneven mix, with empty cells.
MIX = (
    (ReferralStatus.WAITING, Priority.TWO_WEEK_WAIT, 2),
    (ReferralStatus.WAITING, Priority.URGENT, 1),
    (ReferralStatus.WAITING, Priority.ROUTINE, 3),
    (ReferralStatus.IN_OUTREACH, Priority.URGENT, 1),
    (ReferralStatus.IN_OUTREACH, Priority.ROUTINE, 2),
    (ReferralStatus.REACHED, Priority.TWO_WEEK_WAIT, 1),
    (ReferralStatus.BOOKED, Priority.ROUTINE, 2),
    (ReferralStatus.DECLINED, Priority.URGENT, 1),
    (ReferralStatus.EXHAUSTED, Priority.ROUTINE, 1),
    (ReferralStatus.CANCELLED, Priority.TWO_WEEK_WAIT, 1),
)


def visible_text(html: str) -> str:
    """The page's text with tags removed and whitespace collapsed."""
    return " ".join(re.sub(r"<[^>]+>", " ", html).split())


def make_mix() -> Counter[tuple[ReferralStatus, Priority]]:
    made: Counter[tuple[ReferralStatus, Priority]] = Counter()
    with session_scope() as session:
        for status, priority, how_many in MIX:
            for _ in range(how_many):
                create_referral(session, status=status, priority=priority)
                made[(status, priority)] += 1
    return made


def test_the_page_shows_counts_by_status_and_priority_computed_from_the_database(
    database: Engine, client: FlaskClient
) -> None:
    made = make_mix()

    response = client.get("/")

    assert response.status_code == 200
    html = response.get_data(as_text=True)
    page = read_queue_page(html)
    for status in ReferralStatus:
        for priority in Priority:
            assert page.cells[(status.value, priority.value)] == made[(status, priority)]
        expected_status_total = sum(made[(status, priority)] for priority in Priority)
        assert page.cells[(status.value, "total")] == expected_status_total
    for priority in Priority:
        expected_priority_total = sum(made[(status, priority)] for status in ReferralStatus)
        assert page.cells[("total", priority.value)] == expected_priority_total
    assert page.cells[("total", "total")] == sum(made.values())
    total_open = sum(
        count for (status, _priority), count in made.items() if status in OPEN_REFERRAL_STATUSES
    )
    assert f"{total_open} open referrals" in visible_text(html)
    assert "Referral queue" in html


def test_the_json_endpoint_gives_the_same_counts_as_the_page(
    database: Engine, client: FlaskClient
) -> None:
    made = make_mix()

    response = client.get("/api/queue")

    assert response.status_code == 200
    counts: dict[str, Any] = response.get_json()["counts"]
    for status in ReferralStatus:
        for priority in Priority:
            assert counts["by_status"][status.value][priority.value] == made[(status, priority)]
    assert counts["total"] == sum(made.values())
    assert counts["total_open"] == sum(
        count for (status, _priority), count in made.items() if status in OPEN_REFERRAL_STATUSES
    )
    page = read_queue_page(client.get("/").get_data(as_text=True))
    for status in ReferralStatus:
        assert page.cells[(status.value, "total")] == counts["by_status"][status.value]["total"]


def test_the_oldest_waiting_referrals_come_2ww_first_then_urgent_then_routine_then_oldest_date(
    database: Engine, client: FlaskClient
) -> None:
    today = now().date()
    # (priority, days ago, status), in no particular order.
    plan = (
        (Priority.ROUTINE, 90, ReferralStatus.WAITING),
        (Priority.URGENT, 3, ReferralStatus.WAITING),
        (Priority.TWO_WEEK_WAIT, 1, ReferralStatus.WAITING),
        (Priority.ROUTINE, 200, ReferralStatus.IN_OUTREACH),
        (Priority.URGENT, 10, ReferralStatus.WAITING),
        (Priority.ROUTINE, 120, ReferralStatus.WAITING),
        (Priority.TWO_WEEK_WAIT, 5, ReferralStatus.WAITING),
        (Priority.TWO_WEEK_WAIT, 30, ReferralStatus.BOOKED),
        (Priority.ROUTINE, 90, ReferralStatus.WAITING),
    )
    made = []
    with session_scope() as session:
        for priority, days_ago, status in plan:
            referral = create_referral(
                session,
                priority=priority,
                referral_date=today - timedelta(days=days_ago),
                status=status,
            )
            made.append((priority, referral.referral_date, referral.id, referral.ubrn, status))
    expected = [
        (ubrn, (today - referral_date).days)
        for priority, referral_date, _id, ubrn, status in sorted(
            made, key=lambda row: (row[0].rank, row[1], row[2])
        )
        if status == ReferralStatus.WAITING
    ]

    page = read_queue_page(client.get("/").get_data(as_text=True))

    assert [(row[0], int(row[3].split()[0])) for row in page.oldest_rows] == expected
    listed = client.get("/api/queue").get_json()["oldest_waiting"]
    assert [(item["ubrn"], item["days_waiting"]) for item in listed] == expected


def test_nhs_numbers_and_phones_are_masked_and_never_shown_in_clear(
    database: Engine, client: FlaskClient
) -> None:
    with session_scope() as session:
        patient = create_patient(
            session, mobile_phone="+447700900473", landline_phone="+441134960815"
        )
        create_referral(session, patient=patient)
        nhs_number = patient.nhs_number

    html = client.get("/").get_data(as_text=True)
    json_text = json.dumps(client.get("/api/queue").get_json(), ensure_ascii=False)

    for body in (html, json_text):
        assert f"*** *** {nhs_number[-4:]}" in body
        assert mask_phone("+447700900473") in body
        assert mask_phone("+441134960815") in body
        for clear in (
            nhs_number,
            f"{nhs_number[:3]} {nhs_number[3:6]} {nhs_number[6:]}",
            nhs_number[:6],
            "447700900473",
            "07700900473",
            "900473",
            "441134960815",
            "4960815",
        ):
            assert clear not in body


def test_markup_in_referral_data_is_escaped_not_run(database: Engine, client: FlaskClient) -> None:
    attack = "<script>alert(1)</script>"
    with session_scope() as session:
        patient = create_patient(session, given_name=attack, family_name=attack, language=attack)
        create_referral(session, patient=patient, specialty=attack)

    html = client.get("/").get_data(as_text=True)

    assert attack not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html


def test_contact_needs_are_shown_as_words(database: Engine, client: FlaskClient) -> None:
    with session_scope() as session:
        patient = create_patient(
            session, no_voicemail=True, no_sms=True, letter_only=True, large_print=True
        )
        create_referral(session, patient=patient)
        create_referral(session)
        landline_only = create_patient(session, landline_phone="+441632960132", landline_only=True)
        create_referral(session, patient=landline_only)

    page = read_queue_page(client.get("/").get_data(as_text=True))

    needs = [row[5] for row in page.oldest_rows]
    assert sorted(needs) == sorted(
        ["Letter only No voicemail No SMS Large print", "None", "Landline only"]
    )


def test_an_empty_queue_explains_how_to_import_referrals(
    database: Engine, client: FlaskClient
) -> None:
    html = client.get("/").get_data(as_text=True)

    assert "No referrals yet" in html
    assert "python -m rmc_outreach import-referrals FILE" in html
    assert client.get("/api/queue").get_json()["counts"]["total"] == 0


def test_a_queue_with_nobody_waiting_says_so(database: Engine, client: FlaskClient) -> None:
    with session_scope() as session:
        create_referral(session, status=ReferralStatus.BOOKED)

    html = client.get("/").get_data(as_text=True)

    assert "No referrals are waiting to be contacted." in html
    assert "No referrals yet" not in html
