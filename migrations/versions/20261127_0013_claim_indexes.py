"""lighter claim writes: indexes that skip the rows a claim writes

A dispatch claim inserts 100 attempts and updates 100 referrals; each row written pays for every
index of its table (a claim's referral update cannot be HOT: ``next_action_at`` is indexed).
Two indexes held an entry for every row only to record that it had no value:

* ``uq_contact_attempt_provider_sid``: a unique constraint over the Twilio SID, which a new
  attempt does not have yet. Now a unique index over the attempts that have one (the same
  guarantee; lookups by SID use it as before).
* ``ix_referral_reached_at``: the queue page's "reached today". Now over reached referrals only
  (its queries ask for a range of ``reached_at``, which implies one).

Revision ID: 0013
Revises: 0012
Create Date: 2026-11-27
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013"
down_revision: str | Sequence[str] | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

HAS_SID = sa.text("provider_sid IS NOT NULL")
REACHED = sa.text("reached_at IS NOT NULL")


def upgrade() -> None:
    """Replace the two indexes with partial ones."""
    with op.batch_alter_table("contact_attempt", schema=None) as batch_op:
        batch_op.drop_constraint("uq_contact_attempt_provider_sid", type_="unique")
    op.create_index(
        "uq_contact_attempt_provider_sid",
        "contact_attempt",
        ["provider_sid"],
        unique=True,
        postgresql_where=HAS_SID,
        sqlite_where=HAS_SID,
    )
    op.drop_index("ix_referral_reached_at", table_name="referral")
    op.create_index(
        "ix_referral_reached_at",
        "referral",
        ["reached_at"],
        unique=False,
        postgresql_where=REACHED,
        sqlite_where=REACHED,
    )


def downgrade() -> None:
    """Back to the full index and the unique constraint."""
    op.drop_index("ix_referral_reached_at", table_name="referral")
    op.create_index("ix_referral_reached_at", "referral", ["reached_at"], unique=False)
    op.drop_index("uq_contact_attempt_provider_sid", table_name="contact_attempt")
    with op.batch_alter_table("contact_attempt", schema=None) as batch_op:
        batch_op.create_unique_constraint("uq_contact_attempt_provider_sid", ["provider_sid"])
