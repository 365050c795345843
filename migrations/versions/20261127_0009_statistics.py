"""managers' statistics: editable assumptions, and attempts indexed by referral and time

* ``metric_assumption``: the staff-time and provider-cost assumptions an admin has changed.
* ``ix_contact_attempt_referral_created_at``: a referral's attempts in time order, so the
  statistics find each referral's first attempt without reading the table.

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-27
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | Sequence[str] | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Add the assumption table and the index."""
    op.create_table(
        "metric_assumption",
        sa.Column("name", sa.String(length=60), nullable=False),
        sa.Column("value", sa.Float(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_by_user_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["updated_by_user_id"],
            ["user_account.id"],
            name=op.f("fk_metric_assumption_updated_by_user_id_user_account"),
        ),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_metric_assumption")),
    )
    op.create_index(
        "ix_contact_attempt_referral_created_at",
        "contact_attempt",
        ["referral_id", "created_at"],
        unique=False,
    )


def downgrade() -> None:
    """Drop the index and the table."""
    op.drop_index("ix_contact_attempt_referral_created_at", table_name="contact_attempt")
    op.drop_table("metric_assumption")
