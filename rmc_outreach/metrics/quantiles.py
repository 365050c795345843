"""Medians and 90th percentiles computed in the database, the same way on both backends.

The quantile is the continuous one (linear interpolation between the two nearest values, as
PostgreSQL's ``percentile_cont`` and Python's ``statistics.quantiles(method="inclusive")``): the
median of 10, 20, 30, 40 is 25. PostgreSQL computes it in one aggregate; SQLite, which has no
such aggregate, counts the values and reads the one or two values each quantile needs by
position (``ORDER BY ... LIMIT 2 OFFSET k``). Neither sends the values themselves to Python.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session


def quantiles(
    session: Session, values: Select[Any], fractions: Sequence[float]
) -> tuple[int, tuple[float | None, ...]]:
    """How many values the first column of ``values`` holds (NULLs ignored), and its
    ``fractions`` quantiles (None for each when there are no values)."""
    subquery = values.subquery()
    column = next(iter(subquery.c))
    if session.get_bind().dialect.name == "postgresql":
        count, *values_found = session.execute(
            select(
                func.count(column),
                *(func.percentile_cont(f).within_group(column) for f in fractions),
            )
        ).one()
        return int(count), tuple(None if v is None else float(v) for v in values_found)
    count = session.scalar(select(func.count(column))) or 0
    if not count:
        return 0, tuple(None for _ in fractions)
    found: list[float | None] = []
    for fraction in fractions:
        position = fraction * (count - 1)
        lower = math.floor(position)
        pair = session.scalars(
            select(column).where(column.is_not(None)).order_by(column).limit(2).offset(lower)
        ).all()
        low = float(pair[0])
        high = float(pair[1]) if len(pair) > 1 else low
        found.append(low + (high - low) * (position - lower))
    return int(count), tuple(found)
