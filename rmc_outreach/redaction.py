"""Keeping phone numbers and NHS numbers out of free text that is stored or shown widely.

Staff type reasons and notes; some will paste a number. ``redact_numbers`` replaces any run of 9
to 15 digits (spaces, hyphens and a leading ``+`` allowed between them) that stands on its own
with a marker: NHS numbers (10 digits), UK phone numbers in any form, E.164 numbers. Dates (8
digits), times, ids and counts are left alone, and so are digits inside a longer word (a hash).
"""

from __future__ import annotations

import re
from typing import Any

REDACTED = "[number removed]"
MIN_DIGITS = 9
MAX_DIGITS = 15
_CANDIDATE = re.compile(r"(?<![\w+])\+?\d[\d \-]{7,}\d(?!\w)")


def _replace(match: re.Match[str]) -> str:
    digits = sum(character.isdigit() for character in match.group(0))
    return REDACTED if MIN_DIGITS <= digits <= MAX_DIGITS else match.group(0)


def redact_numbers(text: str) -> str:
    """``text`` with every phone-number-like or NHS-number-like run of digits replaced."""
    return _CANDIDATE.sub(_replace, text)


def redact_detail(value: Any) -> Any:
    """A copy of an audit detail with ``redact_numbers`` applied to every string inside it."""
    if isinstance(value, str):
        return redact_numbers(value)
    if isinstance(value, dict):
        return {key: redact_detail(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [redact_detail(item) for item in value]
    return value
