"""Listing a column's distinct values by a skip scan: one index probe per value, not a read of
the table. The column needs a b-tree index that leads with it."""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.orm import Session


def distinct_values(session: Session, table: str, column: str, most: int) -> list[str]:
    """Up to ``most`` distinct non-null values of ``table.column``, in order. ``table`` and
    ``column`` are written into the SQL: pass only names fixed in the code."""
    sql = text(
        f"""
        WITH RECURSIVE found(value, depth) AS (
            SELECT min({column}), 1 FROM {table}
            UNION ALL
            SELECT (SELECT min({column}) FROM {table} WHERE {column} > found.value), depth + 1
            FROM found WHERE found.value IS NOT NULL AND depth < :most
        )
        SELECT value FROM found WHERE value IS NOT NULL ORDER BY value
        """  # noqa: S608 - identifiers are constants from the callers, the limit is bound
    )
    return [str(value) for value in session.scalars(sql, {"most": most})]
