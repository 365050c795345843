"""dispatch claim: fewer index pages written per claimed referral

* ``ix_contact_attempt_referral_id`` goes: ``uq_contact_attempt_step`` (referral_id, step,
  channel) serves every lookup by referral_id (its leading column), so the extra index only
  cost a random page per new attempt.
* ``ix_referral_waiting_order`` holds waiting referrals only on PostgreSQL (every query using it
  asks for ``status = 'waiting'``): claiming, planning and closing referrals in outreach no
  longer add entries to it. SQLite keeps the full index (it cannot match a partial index
  against a bound parameter).

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-27
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

WAITING_ORDER = ("ix_referral_waiting_order", "referral", ["status", "priority", "referral_date"])


def upgrade() -> None:
    op.drop_index("ix_contact_attempt_referral_id", table_name="contact_attempt")
    name, table, columns = WAITING_ORDER
    op.drop_index(name, table_name=table)
    op.create_index(name, table, columns, postgresql_where=sa.text("status = 'waiting'"))


def downgrade() -> None:
    name, table, columns = WAITING_ORDER
    op.drop_index(name, table_name=table)
    op.create_index(name, table, columns)
    op.create_index("ix_contact_attempt_referral_id", "contact_attempt", ["referral_id"])
