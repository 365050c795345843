"""Changing one's own password in Chromium: from the header's link, a refusal shown beside its
field, the change, and signing in again with the new password only."""

from __future__ import annotations

from playwright.sync_api import Page, expect

from rmc_outreach.models import Role, User
from rmc_outreach.passwords import hash_password
from tests.browser.accessibility import assert_accessible
from tests.browser.conftest import BrowserApp, shoot, sign_in
from tests.browser.seed import PASSWORD

NEW_PASSWORD = "four unrelated words, changed"


def add_user(app: BrowserApp, name: str, display_name: str, role: Role, given: bool = False) -> str:
    """A user with PASSWORD (one an admin set, when ``given``); returns the username."""
    username = f"{name}-{app.backend}"
    with app.session() as session, session.begin():
        session.add(
            User(
                username=username,
                display_name=display_name,
                role=role,
                password_hash=hash_password(PASSWORD),
                password_change_required=given,
            )
        )
    return username


def test_a_manager_changes_their_password_from_the_header(
    browser_app: BrowserApp, page: Page
) -> None:
    username = add_user(browser_app, "changing", "Casey Change", Role.MANAGER)
    sign_in(page, browser_app, username)

    page.get_by_role("link", name="Change password").click()
    expect(page.locator("h1")).to_have_text("Change your password")
    page.get_by_label("Current password").fill("not my password")
    page.get_by_label("New password", exact=True).fill(NEW_PASSWORD)
    page.get_by_label("New password again").fill(NEW_PASSWORD)
    page.get_by_role("button", name="Change password").click()
    expect(page.locator("#current_password-error")).to_have_text(
        "that is not your current password"
    )
    shoot(page, browser_app, "own-password-refused")
    assert_accessible(page)

    page.get_by_label("Current password").fill(PASSWORD)
    page.get_by_label("New password", exact=True).fill(NEW_PASSWORD)
    page.get_by_label("New password again").fill(NEW_PASSWORD)
    page.get_by_role("button", name="Change password").click()
    expect(page.get_by_role("status")).to_contain_text("Your password was changed")
    shoot(page, browser_app, "own-password-changed")
    assert_accessible(page)

    page.get_by_role("button", name="Sign out").click()
    page.goto(browser_app.url("/login"))
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.locator(".error-summary, .field-error, [role=alert]").first).to_be_visible()
    sign_in(page, browser_app, username, NEW_PASSWORD)
    expect(page.locator("h1")).to_have_text("Live view")


def test_a_user_given_a_password_by_an_admin_lands_on_the_change_page(
    browser_app: BrowserApp, page: Page
) -> None:
    username = add_user(browser_app, "given", "Gina Given", Role.SUPERVISOR, given=True)

    sign_in(page, browser_app, username)

    expect(page.locator("h1")).to_have_text("Change your password")
    expect(page.get_by_role("status")).to_contain_text("An admin set the password")
    expect(page.get_by_role("link", name="Referral queue")).to_have_count(0)
    shoot(page, browser_app, "own-password-required")
    assert_accessible(page)
    page.get_by_label("Current password").fill(PASSWORD)
    page.get_by_label("New password", exact=True).fill(NEW_PASSWORD)
    page.get_by_label("New password again").fill(NEW_PASSWORD)
    page.get_by_role("button", name="Change password").click()
    page.get_by_role("link", name="Referral queue").click()
    expect(page.locator("h1")).to_have_text("Referral queue")
