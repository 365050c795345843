"""landline only: a patient's wish to be called on the landline only

* ``patient.landline_only``: calls go to the landline only; the mobile is never called or
  texted. False for every existing patient (server default), so nothing changes for them.

Plain ``ALTER TABLE`` on every backend, never a batch: on SQLite a batch would copy the patient
table, and SQLAlchemy cannot reflect its name-search indexes (expressions), so the copy would
lose them. SQLite adds a column with a constant default in place and drops one in place since
3.35.

Revision ID: 0014
Revises: 0013
Create Date: 2026-11-27
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014"
down_revision: str | Sequence[str] | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Add the landline-only flag, false for every patient already stored."""
    op.add_column(
        "patient",
        sa.Column("landline_only", sa.Boolean(), server_default=sa.false(), nullable=False),
    )


def downgrade() -> None:
    """Drop the landline-only flag."""
    op.drop_column("patient", "landline_only")
