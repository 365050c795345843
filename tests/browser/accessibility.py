"""Accessibility checks run inside the browser on a rendered page (WCAG 2.1 AA, the parts a
machine can check): a language, a title and one h1; a label for every form control; a text
alternative for every image and SVG; status shown in words as well as colour; links told apart
from text by more than colour; contrast of text on its background of at least 4.5:1; and a
visible focus indicator on what the keyboard reaches.

Contrast is computed from ``getComputedStyle``: the text colour against the first opaque
background found up the tree (translucent ones blended in), by WCAG's relative luminance.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from playwright.sync_api import Page

MINIMUM_CONTRAST = 4.5

# The page audit: a function of the minimum contrast, returning a list of problems (its leading
# comment lines dropped, so that Playwright sees a function).
AUDIT_SCRIPT = "\n".join(
    line
    for line in (Path(__file__).parent / "accessibility_audit.js").read_text().splitlines()
    if not line.startswith("//")
)

FOCUS_SCRIPT = r"""
() => {
  const el = document.activeElement;
  if (!el || el === document.body) return null;
  // A date field's calendar button lives in the browser's own shadow tree: the field no longer
  // matches :focus there, and the browser draws its own focus ring on the button.
  if (el.matches("input[type=date], input[type=time], input[type=datetime-local]") &&
      !el.matches(":focus")) {
    return { visible: true, element: "calendar button of " + el.id };
  }
  const style = getComputedStyle(el);
  const outline = style.outlineStyle !== "none" && parseFloat(style.outlineWidth) > 0;
  const shadow = style.boxShadow && style.boxShadow !== "none";
  const describe = el.tagName.toLowerCase() + (el.id ? "#" + el.id : "") + " " +
    (el.textContent || el.getAttribute("name") || "").trim().slice(0, 30);
  return { visible: outline || shadow, element: describe };
}
"""


def audit_page(page: Page) -> list[str]:
    """The accessibility problems of the page as it is now (an empty list when none)."""
    problems: list[str] = page.evaluate(AUDIT_SCRIPT, MINIMUM_CONTRAST)
    return problems


def focus_indicators(page: Page, presses: int = 8) -> list[dict[str, Any]]:
    """Press Tab ``presses`` times from the top of the page; for each element reached, whether a
    focus indicator (outline or box-shadow) is drawn."""
    page.evaluate("() => { document.activeElement && document.activeElement.blur(); }")
    reached: list[dict[str, Any]] = []
    for _ in range(presses):
        page.keyboard.press("Tab")
        state = page.evaluate(FOCUS_SCRIPT)
        if state is not None:
            reached.append(state)
    return reached


def assert_accessible(page: Page) -> None:
    """Fail with every problem found on the page, and if the keyboard's focus is not visible."""
    problems = audit_page(page)
    hidden_focus = [state["element"] for state in focus_indicators(page) if not state["visible"]]
    problems += [f"focus not visible on {element}" for element in hidden_focus]
    assert problems == [], f"accessibility problems on {page.url}:\n" + "\n".join(problems)
