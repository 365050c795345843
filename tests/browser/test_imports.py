"""Imports in Chromium: a supervisor uploads a worklist with bad rows, a real worker imports it,
the page shows the result and the rejected rows (row, column, reason), the error CSV downloads,
and names and a file name carrying script stay text on every page that shows them."""

from __future__ import annotations

import csv
import io

from playwright.sync_api import Page, expect

from rmc_outreach.models import Role
from tests.browser.accessibility import assert_accessible
from tests.browser.conftest import BrowserApp, shoot, sign_in
from tests.browser.seed import IMAGE_PAYLOAD, SCRIPT_PAYLOAD
from tests.intake.factories import synthetic_nhs_number, worklist_csv, worklist_row

# The worker may take a few seconds to start before it takes the job.
IMPORT_TIMEOUT_MS = 20_000
FILE_NAME_PAYLOAD = "<img src=x onerror=alert(3)>.csv"
# Far from the UBRNs and NHS numbers tests/factories.py hands out.
FIRST_INDEX = 100_000


def row(offset: int, **overrides: str) -> dict[str, str]:
    """A valid worklist row whose UBRN and NHS number no seeded referral has."""
    index = FIRST_INDEX + offset
    values = {"ubrn": f"{300_000_000_000 + index:012d}", "nhs_number": synthetic_nhs_number(index)}
    return worklist_row(index, **(values | overrides))


def worklist_with_bad_rows() -> bytes:
    """Two good rows (one named with script) and two bad ones (rows 3 and 5 of the sheet)."""
    return worklist_csv(
        [
            row(0, given_name=IMAGE_PAYLOAD, family_name="Importer" + SCRIPT_PAYLOAD),
            row(1, date_of_birth="31/02/1970"),
            row(2, given_name="Yusuf", family_name="Quartermaine"),
            row(3, priority="whenever"),
        ]
    )


def test_a_supervisor_uploads_a_file_with_bad_rows_and_reads_the_error_report(
    browser_app: BrowserApp, page: Page, import_worker: list[str]
) -> None:
    sign_in(page, browser_app, browser_app.seeded.usernames[Role.SUPERVISOR])
    page.get_by_role("link", name="Imports", exact=True).click()
    expect(page.locator("h1")).to_have_text("Imports")
    shoot(page, browser_app, "imports")
    assert_accessible(page)

    page.get_by_label("Worklist CSV file").set_input_files(
        {"name": FILE_NAME_PAYLOAD, "mimeType": "text/csv", "buffer": worklist_with_bad_rows()}
    )
    page.get_by_role("button", name="Upload and import").click()
    page.wait_for_url("**/imports/*")
    # The worker imports it; the page (imports.js) shows the result without a click.
    rejected = page.locator("table.rejected-rows tbody tr")
    try:
        expect(rejected.first).to_be_visible(timeout=IMPORT_TIMEOUT_MS)
    except AssertionError as error:
        raise AssertionError("the worker said:\n" + "".join(import_worker)[-3000:]) from error
    expect(page.locator("[data-figure='imported']")).to_have_text("2")
    expect(page.locator("[data-figure='rejected_rows']")).to_have_text("2")
    problems = [
        tuple(cell.strip() for cell in line.locator("td").all_inner_texts())
        for line in rejected.all()
    ]
    assert {(number, column) for number, column, _ in problems} == {
        ("3", "date_of_birth"),
        ("5", "priority"),
    }, problems
    assert all(reason for _, _, reason in problems)
    # Reasons never repeat a cell's value.
    assert not any("31/02/1970" in reason or "whenever" in reason for *_, reason in problems)
    expect(page.locator("h1")).to_contain_text(FILE_NAME_PAYLOAD)
    assert page.locator("img[src='x']").count() == 0
    shoot(page, browser_app, "import-result")
    assert_accessible(page)

    with page.expect_download() as download_info:
        page.get_by_role("link", name="Download the rejected rows as CSV").click()
    path = download_info.value.path()
    report = list(csv.reader(io.StringIO(path.read_text(encoding="utf-8-sig"))))
    assert [cell.lower() for cell in report[0][:3]] == ["row", "column", "reason"]
    assert {(line[0], line[1]) for line in report[1:]} == {
        ("3", "date_of_birth"),
        ("5", "priority"),
    }

    # The history lists the upload, and the imported names are text wherever they are shown.
    page.get_by_role("link", name="Imports", exact=True).click()
    expect(page.locator("main")).to_contain_text(FILE_NAME_PAYLOAD)
    page.goto(browser_app.url("/referrals?q=Importer"))
    expect(page.locator("table.results-table")).to_contain_text(IMAGE_PAYLOAD)
    page.get_by_role("link", name=f"{300_000_000_000 + FIRST_INDEX:012d}").click()
    expect(page.locator("h1")).to_contain_text(IMAGE_PAYLOAD)
    assert page.locator("img[src='x']").count() == 0
    shoot(page, browser_app, "imported-referral")
