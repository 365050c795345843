"""The accessibility checks find what they look for: a page with every fault they know of
fails each check (so a green run means the pages passed, not that the checks looked away)."""

from __future__ import annotations

from playwright.sync_api import Page

from tests.browser.accessibility import audit_page, focus_indicators

FAULTY_PAGE = """<!doctype html><html><head><title></title>
<style>
  body { color: #999; background: #fff; }
  a { color: #0000ee; text-decoration: none; }
  button:focus { outline: none; }
  .state { display: inline-block; width: 1rem; height: 1rem; background: red; }
</style></head>
<body>
  <h1>One</h1><h1>Two</h1>
  <main>
    <p>Pale text and a <a href="/x">link told apart by colour alone</a>.</p>
    <input id="unlabelled" name="q">
    <img src="data:image/gif;base64,R0lGODlhAQABAAAAACw=">
    <svg width="20" height="20"><rect width="20" height="20"></rect></svg>
    <span class="state"></span>
    <button>Go</button>
  </main>
</body></html>"""


def test_every_check_fails_on_a_page_made_to_fail_it(page: Page) -> None:
    page.set_content(FAULTY_PAGE)
    problems = "\n".join(audit_page(page))
    for expected in (
        "the page has no lang",
        "the page has no title",
        "the page has 2 h1 elements",
        "form control without a label: input#unlabelled",
        "image without alt",
        "svg without a text alternative",
        "colour-only indicator: span.state",
        "link not underlined",
        "contrast 2.85 < 4.5",
    ):
        assert expected in problems, f"{expected!r} not found in:\n{problems}"
    reached = focus_indicators(page, presses=3)
    assert {"visible": False, "element": "button Go"} in reached
