"""The audit log viewer (/audit): admins only, filters, pages, no clear numbers shown."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime

from flask import Flask
from sqlalchemy import Engine

from rmc_outreach.audit import record_audit_event
from rmc_outreach.audit_log import PAGE_SIZE
from rmc_outreach.db import session_scope
from rmc_outreach.models import AuditEvent, Role
from tests.admin_ui.conftest import StaffClient, create_staff


def ids_on(html: str) -> list[int]:
    return [int(found) for found in re.findall(r'<tr data-audit-id="(\d+)">', html)]


def add_events() -> dict[str, int]:
    with session_scope() as session:
        made = {
            "old": record_audit_event(
                session,
                actor_label="system",
                action="user.lock",
                outcome="success",
                object_type="user",
                object_id=5,
            ),
            "pause": record_audit_event(
                session,
                actor_label="user 99",
                action="referral.pause",
                outcome="success",
                object_type="referral",
                object_id=7,
                detail={"reason": "In hospital"},
            ),
            "refused": record_audit_event(
                session,
                actor_label="anonymous",
                action="user.sign_in",
                outcome="failure",
                detail={"reason": "wrong_password"},
            ),
        }
        session.flush()
        made["old"].occurred_at = datetime(2026, 1, 5, 12, 0, tzinfo=UTC)
        return {name: event.id for name, event in made.items()}


def test_admins_filter_by_action_actor_object_outcome_and_dates(
    database: Engine, staff_client: Callable[[Role], StaffClient]
) -> None:
    made = add_events()
    admin = staff_client(Role.ADMIN)

    def found(**filters: str) -> list[int]:
        response = admin.get("/audit", query_string=filters)
        assert response.status_code == 200
        return ids_on(response.get_data(as_text=True))

    assert found(action="referral.pause") == [made["pause"]]
    assert found(actor="system") == [made["old"]]
    assert found(object_type="referral", object_id="7") == [made["pause"]]
    assert found(outcome="failure") == [made["refused"]]
    assert found(**{"from": "2026-01-05", "to": "2026-01-05"}) == [made["old"]]
    assert made["pause"] in found()
    assert admin.get("/audit", query_string={"from": "5 Jan"}).status_code == 422


def test_a_username_finds_that_users_events(
    database: Engine, app: Flask, staff_client: Callable[[Role], StaffClient]
) -> None:
    username = create_staff(Role.SUPERVISOR)
    supervisor: StaffClient = app.test_client()  # type: ignore[assignment]
    supervisor.sign_in(username)
    admin = staff_client(Role.ADMIN)

    html = admin.get("/audit", query_string={"actor": username}).get_data(as_text=True)

    actors = re.findall(r'<td class="nowrap">.*?</td>\s*<td>([^<]*)</td>', html)
    assert actors == [f"Test supervisor ({username}, user {actors[0].split('user ')[-1]}"]
    assert "user.sign_in" in html


def test_events_come_a_page_at_a_time(
    database: Engine, staff_client: Callable[[Role], StaffClient]
) -> None:
    with session_scope() as session:
        for number in range(PAGE_SIZE + 3):
            record_audit_event(
                session,
                actor_label="system",
                action="test.event",
                outcome="success",
                object_id=number,
            )
    admin = staff_client(Role.ADMIN)

    first = admin.get("/audit", query_string={"action": "test.event"}).get_data(as_text=True)
    second = admin.get("/audit", query_string={"action": "test.event", "page": "2"}).get_data(
        as_text=True
    )

    assert len(ids_on(first)) == PAGE_SIZE and 'rel="next"' in first
    assert len(ids_on(second)) == 3 and 'rel="prev"' in second


def test_a_number_stored_in_detail_before_redaction_is_not_shown(
    database: Engine, staff_client: Callable[[Role], StaffClient]
) -> None:
    with session_scope() as session:
        session.add(
            AuditEvent(
                actor_label="system",
                action="legacy.note",
                outcome="success",
                detail={"reason": "rang 07700 900123 about 999 000 0018"},
            )
        )

    html = staff_client(Role.ADMIN).get("/audit").get_data(as_text=True)

    assert "legacy.note" in html
    assert "07700 900123" not in html and "999 000 0018" not in html
    assert "[number removed]" in html


def test_supervisors_and_managers_cannot_read_the_audit_log(
    database: Engine, staff_client: Callable[[Role], StaffClient]
) -> None:
    for role in (Role.SUPERVISOR, Role.MANAGER, Role.HANDLER):
        assert staff_client(role).get("/audit").status_code == 403
