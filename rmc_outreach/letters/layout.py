"""Where things go on an A4 letter, in millimetres from the page's top-left corner.

The envelope window
-------------------
Letters are folded into windowed envelopes: DL (110 x 220 mm, A4 folded in three) or C5
(162 x 229 mm, A4 folded once). The common UK DL window is 90 x 35 mm, 20 mm from the left and
15 mm from the bottom; with the folded sheet resting at the bottom of the envelope that window
shows the page from 49 to 84 mm down. C5 windows are 90 x 35 or 90 x 45 mm, 20 mm from the left,
about 45-50 mm from the top. ``WINDOW`` below (left 20, top 50, 90 x 35 mm) is the smallest of
these and lies inside each of them, so one layout serves both envelopes.

The address is printed inside ``ADDRESS_AREA``: the window less a clear margin (4 mm each side,
3 mm top and bottom) that absorbs the sheet moving in the envelope. Nothing else is printed within
``WINDOW_CLEARANCE`` (the window plus 5 mm all round): through the window a stranger sees only the
patient's name and postal address.

Return address: none on the letter. Royal Mail asks that a return address go on the back of the
envelope (or well apart from the delivery address) and that nothing but the delivery address show
in the window, so automated sorting reads the right one; the envelope stock carries it.

Type
----
Normal print: 12 pt body text, the RNIB's clear-print minimum. Large print: 16 pt body text
(the RNIB's large-print minimum) and 16 pt for everything outside the window. The address is set
in the largest size from its preferred size down to ``ADDRESS_MIN_SIZE`` that fits the address
area, since the window cannot grow.
"""

from __future__ import annotations

from dataclasses import dataclass

PAGE_WIDTH = 210.0
PAGE_HEIGHT = 297.0
LEFT_MARGIN = 20.0
RIGHT_MARGIN = 20.0
TOP_MARGIN = 15.0
BOTTOM_MARGIN = 22.0
TEXT_WIDTH = PAGE_WIDTH - LEFT_MARGIN - RIGHT_MARGIN
POINT = 25.4 / 72  # one typographic point in millimetres


@dataclass(frozen=True)
class Rectangle:
    """An axis-aligned rectangle on the page, in millimetres."""

    left: float
    top: float
    width: float
    height: float

    @property
    def right(self) -> float:
        """The right edge."""
        return self.left + self.width

    @property
    def bottom(self) -> float:
        """The bottom edge."""
        return self.top + self.height

    def contains(self, other: Rectangle) -> bool:
        """True when ``other`` lies entirely inside this rectangle."""
        return (
            other.left >= self.left
            and other.top >= self.top
            and other.right <= self.right
            and other.bottom <= self.bottom
        )

    def overlaps(self, other: Rectangle) -> bool:
        """True when the two rectangles share any area."""
        return (
            other.left < self.right
            and other.right > self.left
            and other.top < self.bottom
            and other.bottom > self.top
        )

    def grown(self, margin: float) -> Rectangle:
        """This rectangle with ``margin`` added on every side (negative shrinks it)."""
        return Rectangle(
            self.left - margin,
            self.top - margin,
            self.width + 2 * margin,
            self.height + 2 * margin,
        )


WINDOW = Rectangle(left=20.0, top=50.0, width=90.0, height=35.0)
ADDRESS_AREA = Rectangle(
    left=WINDOW.left + 4.0,
    top=WINDOW.top + 3.0,
    width=WINDOW.width - 8.0,
    height=WINDOW.height - 6.0,
)
WINDOW_CLEARANCE = WINDOW.grown(5.0)

# The letterhead (service, phone, hours, date, reference) sits top right, clear of the window.
LETTERHEAD = Rectangle(
    left=118.0, top=TOP_MARGIN, width=PAGE_WIDTH - RIGHT_MARGIN - 118.0, height=0
)
# A4 folded in three for a DL envelope folds at 99 and 198 mm; the body starts just below the
# first fold, so that fold never runs through the greeting.
FIRST_FOLD = PAGE_HEIGHT / 3
BODY_TOP = FIRST_FOLD + 4.0
ADDRESS_MIN_SIZE = 8.0
LINE_SPACING = 1.3  # line height as a multiple of the font size


@dataclass(frozen=True)
class Typography:
    """Font sizes (points) for one print variant."""

    body: float
    heading: float
    letterhead: float
    footer: float
    address: float  # preferred; shrunk to fit the window when needed


def line_height(size: float) -> float:
    """Line height in millimetres for a font size in points."""
    return size * POINT * LINE_SPACING


NORMAL_PRINT = Typography(body=12.0, heading=13.0, letterhead=11.0, footer=10.0, address=11.0)
LARGE_PRINT = Typography(body=16.0, heading=18.0, letterhead=16.0, footer=16.0, address=14.0)
LARGE_PRINT_MIN_SIZE = 16.0


def typography(large_print: bool) -> Typography:
    """The type sizes for a letter."""
    return LARGE_PRINT if large_print else NORMAL_PRINT
