"""The statistics page, its CSV and the assumptions form: the same figures as ``stats --json``,
aggregates only, neutralised CSV cells, audited exports and admin-only, audited assumptions."""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Callable
from html.parser import HTMLParser
from typing import Any

import pytest
from sqlalchemy import select, update

from rmc_outreach.config import Settings
from rmc_outreach.db import session_scope
from rmc_outreach.metrics.assumptions import ASSUMPTIONS, AUDIT_ACTION
from rmc_outreach.metrics.export import EXPORT_AUDIT_ACTION, neutralise
from rmc_outreach.models import AuditEvent, MetricAssumption, Patient, Referral, Role
from tests.admin_ui.conftest import StaffClient
from tests.metrics.history import build_week
from tests.test_cli import run_cli

WEEK_QUERY = "?from=2026-11-02&to=2026-11-08"
Clients = Callable[[Role], StaffClient]


class FigureCells(HTMLParser):
    """Every element's ``data-figure`` path with its ``data-value`` (JSON)."""

    def __init__(self) -> None:
        super().__init__()
        self.found: dict[str, list[Any]] = {}

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if values.get("data-figure") and "data-value" in values:
            found = json.loads(values["data-value"] or "null")
            self.found.setdefault(str(values["data-figure"]), []).append(found)


def at_path(figures: Any, path: str) -> Any:
    for part in path.split("."):
        figures = figures[int(part)] if isinstance(figures, list) else figures[part]
    return figures


def week_in_database() -> None:
    with session_scope() as session:
        build_week(session)


def test_the_page_shows_exactly_the_figures_stats_json_prints(
    staff_client: Clients, settings: Settings
) -> None:
    week_in_database()
    page = staff_client(Role.MANAGER).get("/stats" + WEEK_QUERY)
    result = run_cli(settings, "stats", "--json", "--from", "2026-11-02", "--to", "2026-11-08")

    assert page.status_code == 200
    assert result.returncode == 0, result.stderr
    figures = json.loads(result.stdout)
    cells = FigureCells()
    cells.feed(page.get_data(as_text=True))
    assert len(cells.found) > 100
    for path, shown in cells.found.items():
        assert all(value == at_path(figures, path) for value in shown), path
    # The headline figures are on the page, and they are the week's.
    assert cells.found["reach.rate"] == [0.75]
    assert cells.found["cost.total"] == [1.31, 1.31]


def test_the_page_shows_no_patient_data_to_a_manager(staff_client: Clients) -> None:
    week_in_database()
    client = staff_client(Role.MANAGER)
    page = client.get("/stats" + WEEK_QUERY).get_data(as_text=True)
    exported = client.get("/stats.csv" + WEEK_QUERY).get_data(as_text=True)
    with session_scope(read_only=True) as session:
        identifiers = [
            value
            for row in session.execute(
                select(
                    Referral.ubrn, Patient.nhs_number, Patient.family_name, Patient.mobile_phone
                ).join(Patient, Patient.id == Referral.patient_id)
            )
            for value in row
            if value
        ]
    assert identifiers
    for value in identifiers:
        assert value not in page
        assert value not in exported


def test_the_page_draws_accessible_svg_charts_without_script(staff_client: Clients) -> None:
    week_in_database()
    page = staff_client(Role.SUPERVISOR).get("/stats" + WEEK_QUERY).get_data(as_text=True)

    charts = re.findall(r"<svg[^>]*>", page)
    assert len(charts) >= 6
    for tag in charts:
        assert 'role="img"' in tag
        chart_id = re.search(r'aria-labelledby="([\w-]+)-title', tag)
        assert chart_id, tag
        assert f'<title id="{chart_id.group(1)}-title">' in page
        assert f'<desc id="{chart_id.group(1)}-desc">' in page
    assert "<script" not in page
    assert " style=" not in page
    # Each chart's numbers are also in a table.
    assert page.count("<table") >= 10


def test_the_default_range_is_the_last_28_days(staff_client: Clients) -> None:
    page = staff_client(Role.MANAGER).get("/stats").get_data(as_text=True)
    assert "28 days," in page


def test_a_bad_range_is_explained_not_shown(staff_client: Clients) -> None:
    client = staff_client(Role.MANAGER)
    response = client.get("/stats?from=2026-02-30&to=2026-03-01")
    assert response.status_code == 400
    assert "&#39;from&#39; must be a date written YYYY-MM-DD" in response.get_data(as_text=True)
    assert client.get("/stats.csv?from=2026-03-02&to=2026-03-01").status_code == 400


def test_stats_command_refuses_a_bad_date_clearly(settings: Settings) -> None:
    result = run_cli(settings, "stats", "--json", "--from", "02/11/2026")
    assert result.returncode == 2
    assert result.stdout == ""
    assert "stats: 'from' must be a date written YYYY-MM-DD, not '02/11/2026'" in result.stderr


@pytest.mark.parametrize(
    ("cell", "shown"),
    [
        ("=HYPERLINK(1)", "'=HYPERLINK(1)"),
        ("+1", "'+1"),
        ("-0.5", "'-0.5"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\tx", "'\tx"),
        ("\rx", "'\rx"),
        ("Cardiology", "Cardiology"),
        ("0.75", "0.75"),
    ],
)
def test_csv_cells_that_a_spreadsheet_would_run_are_neutralised(cell: str, shown: str) -> None:
    assert neutralise(cell) == shown


def test_the_csv_export_neutralises_every_cell_and_is_audited(staff_client: Clients) -> None:
    week_in_database()
    with session_scope() as session:
        session.execute(
            update(Referral)
            .where(Referral.specialty == "Dermatology")
            .values(specialty="=HYPERLINK(evil)")
        )
    response = staff_client(Role.MANAGER).get("/stats.csv" + WEEK_QUERY)

    assert response.status_code == 200
    assert response.mimetype == "text/csv"
    assert "attachment" in response.headers["Content-Disposition"]
    rows = list(csv.reader(io.StringIO(response.get_data(as_text=True))))
    assert rows[0] == ["section", "item", "figure", "value"]
    assert ["reach", "", "rate", "0.75"] in rows
    assert ["reach.by_specialty", "'=HYPERLINK(evil)", "rate", "0.5"] in rows
    assert all(
        not cell.startswith(("=", "+", "-", "@", "\t", "\r")) for row in rows for cell in row
    )
    with session_scope(read_only=True) as session:
        [event] = session.scalars(
            select(AuditEvent).where(AuditEvent.action == EXPORT_AUDIT_ACTION)
        ).all()
        assert event.detail == {"from": "2026-11-02", "to": "2026-11-08", "format": "csv"}
        assert event.actor_user_id is not None


def _form(**changes: str) -> dict[str, str]:
    values = {assumption.name: "1" for assumption in ASSUMPTIONS}
    values.update(
        manual_minutes_per_call="2",
        manual_minutes_per_voicemail="1",
        manual_minutes_per_sms="1.5",
        manual_minutes_per_letter="5",
        staff_minutes_per_printed_letter="1",
        staff_minutes_per_handoff="0.5",
        hours_per_fte_day="7.5",
        call_price_per_minute="0.03",
        sms_price_per_segment="0.04",
        letter_price="0.85",
    )
    values.update(changes)
    return values


def test_an_admin_changes_the_assumptions_and_the_change_is_audited(
    staff_client: Clients, settings: Settings
) -> None:
    week_in_database()
    admin = staff_client(Role.ADMIN)
    form = admin.get("/stats/assumptions").get_data(as_text=True)
    assert 'name="manual_minutes_per_call" value="2"' in form

    response = admin.post(
        "/stats/assumptions", data=_form(manual_minutes_per_call="3", letter_price="1")
    )

    assert response.status_code == 303
    with session_scope(read_only=True) as session:
        [event] = session.scalars(select(AuditEvent).where(AuditEvent.action == AUDIT_ACTION)).all()
        assert event.detail == {
            "manual_minutes_per_call": {"old": 2.0, "new": 3.0},
            "letter_price": {"old": 0.85, "new": 1.0},
        }
    # The figures use them at once: 6 more minutes by hand, 15p more for the letter.
    result = run_cli(settings, "stats", "--json", "--from", "2026-11-02", "--to", "2026-11-08")
    figures = json.loads(result.stdout)
    assert figures["staff_time"]["manual_minutes"] == 27.0
    assert figures["cost"]["total"] == 1.46
    assert figures["assumptions"]["manual_minutes_per_call"]["value"] == 3.0
    page = admin.get("/stats" + WEEK_QUERY).get_data(as_text=True)
    assert "3 minutes" in page


def test_an_unusable_assumption_is_refused_and_nothing_is_saved(staff_client: Clients) -> None:
    response = staff_client(Role.ADMIN).post(
        "/stats/assumptions", data=_form(manual_minutes_per_call="-1", letter_price="2")
    )

    assert response.status_code == 422
    assert "enter a number from 0 to 60" in response.get_data(as_text=True)
    with session_scope(read_only=True) as session:
        assert session.scalars(select(MetricAssumption)).all() == []
        assert (
            session.scalars(select(AuditEvent).where(AuditEvent.action == AUDIT_ACTION)).all() == []
        )


@pytest.mark.parametrize("role", [Role.MANAGER, Role.SUPERVISOR])
def test_only_admins_may_change_the_assumptions(staff_client: Clients, role: Role) -> None:
    client = staff_client(role)
    assert client.post("/stats/assumptions", data=_form(letter_price="9")).status_code == 403
    assert "Edit assumptions" not in client.get("/stats").get_data(as_text=True)
    with session_scope(read_only=True) as session:
        assert session.scalars(select(MetricAssumption)).all() == []
