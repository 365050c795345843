"""Bulk statements that stay fast for 100,000 rows on PostgreSQL and portable to SQLite.

On PostgreSQL rows go in with ``COPY`` (ids taken from the table's sequence first, so the caller
knows them) and lookups pass one array parameter (``= ANY``) rather than one placeholder per
value: the SQL text stays small, so neither the driver nor the server parses thousands of
placeholders per chunk. Other backends use SQLAlchemy's own bulk forms (``insert().returning()``
with a list of rows, ``IN``). Everything runs on the session's connection, inside its transaction.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import ColumnElement, Table, any_, insert, literal, text
from sqlalchemy.dialects import postgresql
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import InstrumentedAttribute, Session


def is_postgresql(session: Session) -> bool:
    """True when the session talks to PostgreSQL."""
    return session.get_bind().dialect.name == "postgresql"


def matching(
    column: InstrumentedAttribute[Any], values: Sequence[Any], *, postgres: bool
) -> ColumnElement[bool]:
    """``column IN values``: one array parameter on PostgreSQL."""
    if postgres:
        return column == any_(literal(list(values), type_=postgresql.ARRAY(column.type)))
    return column.in_(values)


def _copy(
    session: Session, table: Table, columns: Sequence[str], rows: Iterable[Sequence[Any]]
) -> None:
    import psycopg

    driver_connection: Any = session.connection().connection.driver_connection
    # Names come from the table definition, never from input.
    statement = f"COPY {table.name} ({', '.join(columns)}) FROM STDIN"
    try:
        with driver_connection.cursor() as cursor, cursor.copy(statement) as copy:
            for row in rows:
                copy.write_row(row)
    except psycopg.Error as error:
        # Callers see the same exception types as from any SQLAlchemy statement.
        raise DBAPIError.instance(statement, None, error, psycopg.Error) from error


def insert_rows(
    session: Session, table: Table, columns: Sequence[str], rows: Sequence[Sequence[Any]]
) -> None:
    """Insert rows given as value tuples in ``columns`` order (enums as their string values)."""
    if not rows:
        return
    if is_postgresql(session):
        _copy(session, table, columns, rows)
    else:
        session.execute(insert(table), [dict(zip(columns, row, strict=True)) for row in rows])


def insert_rows_returning_ids(
    session: Session, table: Table, columns: Sequence[str], rows: Sequence[Sequence[Any]]
) -> list[int]:
    """Insert rows as ``insert_rows`` does (without ``id``) and return their new ids in order."""
    if not rows:
        return []
    if not is_postgresql(session):
        returned = session.execute(
            insert(table).returning(table.c.id, sort_by_parameter_order=True),
            [dict(zip(columns, row, strict=True)) for row in rows],
        )
        return [row[0] for row in returned]
    ids = list(
        session.execute(
            text(
                "SELECT nextval(pg_get_serial_sequence(:table_name, 'id')) "
                "FROM generate_series(1, :count)"
            ),
            {"table_name": table.name, "count": len(rows)},
        ).scalars()
    )
    _copy(
        session,
        table,
        ("id", *columns),
        ((new_id, *row) for new_id, row in zip(ids, rows, strict=True)),
    )
    return ids
