"""Names that carry script (a patient's and a handler's, see ``seed.py``) are shown as text on
every page that shows names: no dialog opens in Chromium, no element is made from them, the
pages' own scripts (live view and console updates) keep them text, and the HTML sent escapes
them."""

from __future__ import annotations

from playwright.sync_api import Page, expect

from rmc_outreach.models import Role
from tests.browser.conftest import BrowserApp, shoot, sign_in
from tests.browser.seed import IMAGE_PAYLOAD, SCRIPT_PAYLOAD

ESCAPED_IMAGE = "&lt;img src=x onerror=alert(1)&gt;"
# Pages whose scripts redraw names from JSON: wait for at least one redraw.
REDRAW_WAIT_MS = 2_500


def payload_pages(app: BrowserApp) -> list[tuple[str, str, bool]]:
    """(path, screenshot name, whether its script redraws names) of every page showing names."""
    seeded = app.seeded
    return [
        ("/referrals?q=Xss", "referrals", False),
        (f"/referrals/{seeded.payload_referral_id}", "referral", False),
        ("/live", "live", True),
        ("/console", "console-picker", False),
        (f"/console/{seeded.payload_handler_id}", "console", True),
    ]


def assert_inert(page: Page) -> None:
    """No element was made from a payload, and the payloads read as text."""
    assert page.locator("img[src='x']").count() == 0
    scripts = page.locator("script").evaluate_all("els => els.map(e => e.textContent)")
    assert not any("xss" in text for text in scripts)
    assert page.evaluate("window.__xss === undefined")


def test_names_carrying_script_are_shown_as_text_on_every_page_that_shows_names(
    browser_app: BrowserApp, page: Page
) -> None:
    sign_in(page, browser_app, browser_app.seeded.usernames[Role.ADMIN])
    for path, name, redraws in payload_pages(browser_app):
        response = page.goto(browser_app.url(path))
        assert response is not None and response.status == 200, path
        html = response.text()
        assert IMAGE_PAYLOAD not in html, path
        assert SCRIPT_PAYLOAD not in html, path
        assert ESCAPED_IMAGE in html, f"{path} does not show the payload name at all"
        expect(page.locator("main")).to_contain_text(IMAGE_PAYLOAD)
        if redraws:
            page.wait_for_timeout(REDRAW_WAIT_MS)
            expect(page.locator("main")).to_contain_text(IMAGE_PAYLOAD)
        assert_inert(page)
        shoot(page, browser_app, f"payload-{name}")


def test_a_handler_whose_name_carries_script_sees_it_as_text_on_their_own_console(
    browser_app: BrowserApp, page: Page
) -> None:
    sign_in(page, browser_app, browser_app.seeded.payload_handler_username)
    assert page.url.endswith(f"/console/{browser_app.seeded.payload_handler_id}")
    expect(page.locator(".signed-in-as")).to_contain_text(IMAGE_PAYLOAD)
    expect(page.locator("main")).to_contain_text(SCRIPT_PAYLOAD)
    page.wait_for_timeout(REDRAW_WAIT_MS)
    assert_inert(page)
