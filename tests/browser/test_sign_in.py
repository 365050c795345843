"""Signing in, in Chromium: each role lands on its own page and sees only its own navigation; a
wrong password gets the one refusal message; the keyboard alone is enough; and so is a browser
with JavaScript turned off."""

from __future__ import annotations

from collections.abc import Callable

from playwright.sync_api import BrowserContext, Page, expect

from rmc_outreach.models import Role
from tests.browser.accessibility import assert_accessible
from tests.browser.conftest import BrowserApp, shoot, sign_in

NAVIGATION = {
    "Referral queue",
    "Referrals",
    "Live view",
    "Statistics",
    "Handler consoles",
    "My console",
    "Imports",
    "Audit log",
    "Users",
    "Settings",
}
# What each role must see in the main navigation; it must see nothing else of NAVIGATION
# (least privilege).
EXPECTED_NAVIGATION = {
    Role.HANDLER: {"My console"},
    Role.SUPERVISOR: {
        "Referral queue",
        "Referrals",
        "Live view",
        "Statistics",
        "Handler consoles",
        "Imports",
    },
    Role.MANAGER: {"Live view", "Statistics"},
    Role.ADMIN: {
        "Referral queue",
        "Referrals",
        "Live view",
        "Statistics",
        "Handler consoles",
        "Imports",
        "Audit log",
        "Users",
        "Settings",
    },
}
LANDING_HEADING = {
    Role.SUPERVISOR: "Referral queue",
    Role.MANAGER: "Live view",
    Role.ADMIN: "Referral queue",
}


def navigation_labels(page: Page) -> set[str]:
    """The link texts of the main navigation."""
    return {text.strip() for text in page.locator("nav[aria-label='Main'] a").all_inner_texts()}


def visit_every_page_of_the_navigation(page: Page, app: BrowserApp) -> None:
    """Open each page the navigation links to: a screenshot of each, and each accessible."""
    links = page.locator("nav[aria-label='Main'] a")
    targets = [
        (links.nth(index).inner_text().strip(), links.nth(index).get_attribute("href"))
        for index in range(links.count())
    ]
    for label, href in targets:
        assert href is not None
        response = page.goto(app.url(href))
        assert response is not None and response.status == 200, (label, href)
        expect(page.locator(f"nav[aria-label='Main'] a[href='{href}']")).to_have_attribute(
            "aria-current", "page"
        )
        shoot(page, app, "nav-" + label.lower().replace(" ", "-"))
        assert_accessible(page)


def test_each_role_lands_on_its_own_page_and_sees_only_its_own_navigation(
    browser_app: BrowserApp, page: Page
) -> None:
    for role in (Role.HANDLER, Role.SUPERVISOR, Role.MANAGER, Role.ADMIN):
        page.context.clear_cookies()
        sign_in(page, browser_app, browser_app.seeded.usernames[role])
        shown = navigation_labels(page)
        assert EXPECTED_NAVIGATION[role] <= shown, (role, shown)
        assert not (NAVIGATION - EXPECTED_NAVIGATION[role]) & shown, (role, shown)
        expect(page.locator(".signed-in-as")).to_contain_text(f"({role.value})")
        if role is Role.HANDLER:
            assert page.url.endswith(f"/console/{browser_app.seeded.handler_id}")
        else:
            expect(page.locator("h1")).to_have_text(LANDING_HEADING[role])
        shoot(page, browser_app, f"landing-{role.value}")
        assert_accessible(page)
        if role is Role.ADMIN:
            visit_every_page_of_the_navigation(page, browser_app)
        page.get_by_role("banner").get_by_role("button", name="Sign out").click()
        expect(page.locator("h1")).to_have_text("Sign in")


def test_a_wrong_password_is_refused_with_the_one_message_and_the_form_is_accessible(
    browser_app: BrowserApp, page: Page
) -> None:
    page.goto(browser_app.url("/login"))
    assert_accessible(page)
    shoot(page, browser_app, "login")
    page.get_by_label("Username").fill(browser_app.seeded.usernames[Role.SUPERVISOR])
    page.get_by_label("Password").fill("not the password at all")
    page.get_by_role("button", name="Sign in").click()

    alert = page.get_by_role("alert")
    expect(alert).to_contain_text("The username or password is not right")
    assert "/login" in page.url
    shoot(page, browser_app, "login-refused")
    assert_accessible(page)
    # Unknown users read exactly the same (the page never tells whether an account exists).
    message = alert.inner_text()
    page.get_by_label("Username").fill("nobody-by-this-name")
    page.get_by_label("Password").fill("not the password at all")
    page.get_by_role("button", name="Sign in").click()
    assert page.get_by_role("alert").inner_text() == message


def test_a_person_signs_in_with_the_keyboard_alone(browser_app: BrowserApp, page: Page) -> None:
    page.goto(browser_app.url("/login"))
    page.keyboard.press("Tab")  # the skip link comes first
    assert page.evaluate("document.activeElement.className") == "skip-link"
    assert page.locator(".skip-link").is_visible()
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.id") == "username"
    page.keyboard.type(browser_app.seeded.usernames[Role.SUPERVISOR])
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.id") == "password"
    page.keyboard.type("browser tests walk the pages")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent.trim()") == "Sign in"
    page.keyboard.press("Enter")
    expect(page.locator("h1")).to_have_text("Referral queue")
    # Onward by keyboard too: the skip link, then the navigation, then a page by Enter.
    page.keyboard.press("Tab")
    page.keyboard.press("Enter")
    assert page.evaluate("document.activeElement.id") == "main"
    page.keyboard.press("Shift+Tab")
    for _ in range(10):
        if page.evaluate("document.activeElement.textContent.trim()") == "Referrals":
            break
        page.keyboard.press("Tab")
    page.keyboard.press("Enter")
    expect(page.locator("h1")).to_have_text("Referrals")


def test_without_javascript_sign_in_referral_search_and_statistics_still_work(
    browser_app: BrowserApp, new_context: Callable[..., BrowserContext]
) -> None:
    page = new_context(java_script_enabled=False).new_page()
    sign_in(page, browser_app, browser_app.seeded.usernames[Role.SUPERVISOR])
    expect(page.locator("h1")).to_have_text("Referral queue")

    page.get_by_role("link", name="Referrals", exact=True).click()
    page.get_by_label("UBRN, NHS number or name").fill(browser_app.seeded.searchable_family_name)
    page.get_by_role("button", name="Search").click()
    rows = page.locator("table.results-table tbody tr")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("Imogen Thistlewood")
    shoot(page, browser_app, "nojs-referrals")

    page.get_by_role("link", name="Statistics").click()
    expect(page.locator("h1")).to_contain_text("Statistics")
    assert page.locator("svg").count() > 0
    shoot(page, browser_app, "nojs-stats")
