"""The staff pages in Chromium: search and open a referral, reveal a number (audited), the live
view updating without a reload, the statistics page, a handler's console; each page screenshot
and checked for accessibility."""

from __future__ import annotations

import re
import time

from playwright.sync_api import Page, expect
from sqlalchemy import func, select

from rmc_outreach.models import AuditEvent, Referral, ReferralStatus, Role
from tests.browser.accessibility import assert_accessible, audit_page
from tests.browser.conftest import BrowserApp, shoot, sign_in
from tests.factories import create_referral

LIVE_UPDATE_TIMEOUT_MS = 8_000


def spaced(nhs_number: str) -> str:
    """An NHS number as people write it (3 3 4)."""
    return f"{nhs_number[:3]} {nhs_number[3:6]} {nhs_number[6:]}"


def shows_nhs_number(html: str, nhs_number: str) -> bool:
    """True when the page shows the NHS number in clear, written either way."""
    return nhs_number in html or spaced(nhs_number) in html


def test_a_supervisor_searches_opens_a_referral_and_reveals_a_number_which_is_audited(
    browser_app: BrowserApp, page: Page
) -> None:
    seeded = browser_app.seeded
    sign_in(page, browser_app, seeded.usernames[Role.SUPERVISOR])
    page.get_by_role("link", name="Referrals", exact=True).click()
    expect(page.locator("h1")).to_have_text("Referrals")
    assert_accessible(page)
    page.get_by_label("UBRN, NHS number or name").fill("Thistle")
    page.get_by_label("Priority").select_option("urgent")
    page.get_by_role("button", name="Search").click()
    rows = page.locator("table.results-table tbody tr")
    expect(rows).to_have_count(1)
    # The NHS number is masked in the results.
    masked = rows.first.locator("td.mono").nth(1).inner_text()
    assert not shows_nhs_number(masked, seeded.searchable_nhs_number)
    assert masked[-3:] == seeded.searchable_nhs_number[-3:] or "•" in masked or "*" in masked
    shoot(page, browser_app, "referrals-search")
    assert_accessible(page)

    rows.first.get_by_role("link", name=seeded.searchable_ubrn).click()
    expect(page.locator("h1")).to_contain_text("Imogen Thistlewood")
    assert not shows_nhs_number(page.content(), seeded.searchable_nhs_number)
    shoot(page, browser_app, "referral")
    assert_accessible(page)

    with browser_app.session() as session:
        reveals_before = session.scalar(
            select(func.count())
            .select_from(AuditEvent)
            .where(AuditEvent.action == "referral.reveal")
        )
    page.get_by_role("button", name=re.compile(r"^Reveal NHS number")).click()
    revealed = page.locator("section.revealed")
    expect(revealed).to_contain_text(spaced(seeded.searchable_nhs_number))
    shoot(page, browser_app, "referral-revealed")
    with browser_app.session() as session:
        reveals = session.scalars(
            select(AuditEvent)
            .where(AuditEvent.action == "referral.reveal")
            .order_by(AuditEvent.id.desc())
        ).all()
    assert len(reveals) == (reveals_before or 0) + 1
    newest = reveals[0]
    assert newest.object_id == str(seeded.searchable_referral_id)
    assert newest.outcome == "revealed"
    # The audit row names the viewer and the kind of number, never the number itself.
    assert not shows_nhs_number(repr(newest.detail), seeded.searchable_nhs_number)
    # Opening the page again masks it again.
    page.goto(browser_app.url(f"/referrals/{seeded.searchable_referral_id}"))
    assert not shows_nhs_number(page.content(), seeded.searchable_nhs_number)


def test_the_live_view_shows_a_change_in_the_database_within_seconds_without_a_reload(
    browser_app: BrowserApp, page: Page
) -> None:
    sign_in(page, browser_app, browser_app.seeded.usernames[Role.SUPERVISOR])
    page.get_by_role("link", name="Live view").click()
    expect(page.locator("h1")).to_have_text("Live view")
    total = page.locator("[data-figure='referrals.total']")
    waiting = page.locator("[data-figure='referrals.by_status.waiting']")
    before_total, before_waiting = int(total.inner_text()), int(waiting.inner_text())
    assert before_total > 0
    on_handler = page.locator(".stat [data-figure='calls.on_handler']")
    assert int(on_handler.inner_text()) >= 1
    shoot(page, browser_app, "live")
    assert_accessible(page)
    # Mark the page: a reload would lose it.
    page.evaluate("window.__not_reloaded = true")

    with browser_app.session() as session, session.begin():
        for _ in range(3):
            create_referral(session, status=ReferralStatus.WAITING)
    started = time.monotonic()
    expect(total).to_have_text(str(before_total + 3), timeout=LIVE_UPDATE_TIMEOUT_MS)
    expect(waiting).to_have_text(str(before_waiting + 3), timeout=LIVE_UPDATE_TIMEOUT_MS)
    assert time.monotonic() - started < LIVE_UPDATE_TIMEOUT_MS / 1000
    assert page.evaluate("window.__not_reloaded === true")

    with browser_app.session() as session, session.begin():
        for referral in session.scalars(
            select(Referral).order_by(Referral.id.desc()).limit(3)
        ).all():
            referral.status = ReferralStatus.EXHAUSTED
    expect(waiting).to_have_text(str(before_waiting), timeout=LIVE_UPDATE_TIMEOUT_MS)
    assert page.evaluate("window.__not_reloaded === true")


def test_a_manager_reads_the_statistics_page(browser_app: BrowserApp, page: Page) -> None:
    sign_in(page, browser_app, browser_app.seeded.usernames[Role.MANAGER])
    page.get_by_role("link", name="Statistics").click()
    expect(page.locator("h1")).to_contain_text("Statistics")
    # The known week of tests/metrics/history.py: three of its four referrals were reached.
    page.goto(browser_app.url("/stats?from=2026-11-02&to=2026-11-08"))
    reach = page.locator("[data-figure='reach.rate']").first
    expect(reach).to_contain_text("75")
    charts = page.locator("svg")
    assert charts.count() >= 3
    # Every chart has a title and the same numbers in a table beside it.
    assert page.locator("table").count() >= charts.count()
    shoot(page, browser_app, "stats")
    assert_accessible(page)
    assert browser_app.seeded.searchable_family_name not in page.content()


def test_a_handler_sees_their_console_and_a_supervisor_looks_at_one(
    browser_app: BrowserApp, page: Page
) -> None:
    seeded = browser_app.seeded
    sign_in(page, browser_app, seeded.usernames[Role.HANDLER])
    assert page.url.endswith(f"/console/{seeded.handler_id}")
    expect(page.locator("h1")).to_be_visible()
    shoot(page, browser_app, "console-handler")
    assert_accessible(page)
    # Another handler's console is not theirs to see.
    response = page.goto(browser_app.url(f"/console/{seeded.payload_handler_id}"))
    assert response is not None and response.status == 403

    page.context.clear_cookies()
    sign_in(page, browser_app, seeded.usernames[Role.SUPERVISOR])
    page.get_by_role("link", name="Handler consoles").click()
    shoot(page, browser_app, "console-picker")
    assert_accessible(page)
    page.goto(browser_app.url(f"/console/{seeded.payload_handler_id}"))
    # The handler is on a call: the screen-pop shows the patient (whose name is a payload).
    expect(page.locator("main")).to_contain_text("onerror=alert(1)")
    shoot(page, browser_app, "console-on-call")
    assert audit_page(page) == []


def test_the_queue_page_and_the_audit_log_are_accessible(
    browser_app: BrowserApp, page: Page
) -> None:
    sign_in(page, browser_app, browser_app.seeded.usernames[Role.ADMIN])
    expect(page.locator("h1")).to_have_text("Referral queue")
    shoot(page, browser_app, "queue")
    assert_accessible(page)
    page.get_by_role("link", name="Audit log").click()
    expect(page.locator("h1")).to_contain_text("Audit")
    shoot(page, browser_app, "audit-log")
    assert_accessible(page)
    page.goto(browser_app.url("/stats/assumptions"))
    shoot(page, browser_app, "stats-assumptions")
    assert_accessible(page)


def test_on_a_laptop_and_a_tablet_the_pages_fit_the_screen_without_sideways_scrolling(
    browser_app: BrowserApp, page: Page
) -> None:
    sign_in(page, browser_app, browser_app.seeded.usernames[Role.ADMIN])
    for device, size in (("laptop", (1280, 800)), ("tablet", (768, 1024))):
        page.set_viewport_size({"width": size[0], "height": size[1]})
        for path, name in (
            ("/", "queue"),
            (f"/referrals/{browser_app.seeded.searchable_referral_id}", "referral"),
            ("/live", "live"),
            ("/stats?from=2026-11-02&to=2026-11-08", "stats"),
            ("/audit", "audit-log"),
        ):
            page.goto(browser_app.url(path))
            overflow = page.evaluate(
                "document.documentElement.scrollWidth - document.documentElement.clientWidth"
            )
            if device == "tablet":
                shoot(page, browser_app, f"tablet-{name}")
            assert overflow <= 0, f"{path} scrolls sideways by {overflow}px on a {device}"


def test_an_admin_sees_the_message_preview_change_as_they_type_and_nothing_is_saved(
    browser_app: BrowserApp, page: Page
) -> None:
    sign_in(page, browser_app, browser_app.seeded.usernames[Role.ADMIN])
    page.goto(browser_app.url("/admin/settings/messages"))
    preview = page.locator("section[aria-labelledby='preview-heading']")
    service_name = page.locator("input[name$='service_name']")
    service_name.fill("Riverside Booking Service")
    expect(preview).to_contain_text("Riverside Booking Service", timeout=LIVE_UPDATE_TIMEOUT_MS)
    expect(page.locator("#preview-heading")).to_contain_text("not saved")
    # An unsafe value shows the error without a page load; nothing was saved either way.
    service_name.fill("Riverside 0123456789 Clinic")
    expect(page.locator(".error-summary")).to_be_visible(timeout=LIVE_UPDATE_TIMEOUT_MS)
    shoot(page, browser_app, "settings-live-preview")
    page.goto(browser_app.url("/admin/settings/messages"))
    expect(service_name).not_to_have_value("Riverside Booking Service")
