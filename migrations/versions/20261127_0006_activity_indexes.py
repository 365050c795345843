"""index referrals by when they were reached (the queue page's "reached today")

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-27
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0006"
down_revision: str | Sequence[str] | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Index when referrals were reached; set once, so claims never pay for it."""
    op.create_index("ix_referral_reached_at", "referral", ["reached_at"], unique=False)


def downgrade() -> None:
    """Drop the index."""
    op.drop_index("ix_referral_reached_at", table_name="referral")
