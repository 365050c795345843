"""The range's GROUP BYs as the rows of one statement.

``activity`` and ``reach`` both start from the range's made attempts. Read as two statements,
each would find those attempts again (an index range scan and a visit to every row's page);
as one ``UNION ALL`` the database reads them once (a CTE used twice is computed once) and the
service pays one round trip. Every part of the union has the same columns, ``COLUMNS``: a
dimension naming the part, a key, the attempt keys (empty in ``reach``'s parts), two counts and
two quantiles (empty but in the percentiles' part).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Float, Integer, Select, String, cast, literal, union_all
from sqlalchemy.orm import Session

COLUMNS = (
    "dimension",
    "key",
    "channel",
    "outcome",
    "answered_by",
    "template",
    "live",
    "handoff",
    "count",
    "amount",
    "low",
    "high",
)


@dataclass(frozen=True)
class GroupedRow:
    """One row of the union (see ``COLUMNS``)."""

    dimension: str
    key: str | None
    channel: str | None
    outcome: str | None
    answered_by: str | None
    template: str | None
    live: int | None
    handoff: int | None
    count: int
    amount: int
    low: float | None
    high: float | None


def grouped_columns(
    dimension: str,
    key: Any,
    count: Any,
    amount: Any,
    *,
    attempt_keys: Sequence[Any] | None = None,
    low: Any = None,
    high: Any = None,
) -> list[Any]:
    """The columns of one part, in ``COLUMNS`` order; what a part lacks is a typed NULL.
    ``attempt_keys``: channel, outcome, answered_by, template, live and handoff."""
    keys = list(attempt_keys) if attempt_keys is not None else [None] * 6
    return [
        literal(dimension, String).label("dimension"),
        cast(key, String).label("key"),
        *(cast(value, String) for value in keys[:4]),
        *(cast(value, Integer) for value in keys[4:]),
        count,
        amount,
        low if low is not None else cast(None, Float),
        high if high is not None else cast(None, Float),
    ]


def read_grouped(session: Session, parts: Sequence[Select[Any]]) -> dict[str, list[GroupedRow]]:
    """Run the parts as one statement; their rows by dimension."""
    found: dict[str, list[GroupedRow]] = {}
    for row in session.execute(union_all(*parts)):
        grouped = GroupedRow(
            dimension=row[0],
            key=None if row[1] is None else str(row[1]),
            channel=row[2],
            outcome=row[3],
            answered_by=row[4],
            template=row[5],
            live=None if row[6] is None else int(row[6]),
            handoff=None if row[7] is None else int(row[7]),
            count=int(row[8] or 0),
            amount=int(row[9] or 0),
            low=None if row[10] is None else float(row[10]),
            high=None if row[11] is None else float(row[11]),
        )
        found.setdefault(grouped.dimension, []).append(grouped)
    return found
