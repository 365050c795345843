"""pacing: outreach paused per scope; patients found by landline for the no-redial lockout

* ``outreach_pause`` holds one row per paused scope (``all`` or a priority value) while it is
  paused; the audit trail keeps the history.
* ``ix_patient_landline_phone``: the 72-hour lockout after an abandoned call covers every
  referral of every patient on that number, mobile (already indexed) or landline.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-27
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | Sequence[str] | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Create the pause table and the landline index."""
    op.create_table(
        "outreach_pause",
        sa.Column("scope", sa.String(length=16), nullable=False),
        sa.Column("paused_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("paused_by_user_id", sa.Integer(), nullable=True),
        sa.Column("reason", sa.String(length=200), nullable=False),
        sa.ForeignKeyConstraint(
            ["paused_by_user_id"],
            ["user_account.id"],
            name=op.f("fk_outreach_pause_paused_by_user_id_user_account"),
        ),
        sa.PrimaryKeyConstraint("scope", name=op.f("pk_outreach_pause")),
    )
    op.create_index("ix_patient_landline_phone", "patient", ["landline_phone"], unique=False)


def downgrade() -> None:
    """Drop them."""
    op.drop_index("ix_patient_landline_phone", table_name="patient")
    op.drop_table("outreach_pause")
