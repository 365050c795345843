"""contact engine: provider facts on attempts, journey plan on referrals, mobile lookup

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-27
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("contact_attempt", schema=None) as batch_op:
        batch_op.add_column(sa.Column("template", sa.String(length=40), nullable=True))
        batch_op.add_column(sa.Column("provider_status", sa.String(length=20), nullable=True))
        batch_op.add_column(sa.Column("keypad_choice", sa.String(length=4), nullable=True))
        batch_op.add_column(sa.Column("voicemail_at", sa.DateTime(timezone=True), nullable=True))

    with op.batch_alter_table("referral", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "next_channel",
                sa.Enum(
                    "call",
                    "sms",
                    "letter",
                    name="next_channel",
                    native_enum=False,
                    create_constraint=True,
                    length=14,
                ),
                nullable=True,
            )
        )
        batch_op.add_column(sa.Column("last_contact_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("journey_end_reason", sa.String(length=40), nullable=True))

    with op.batch_alter_table("patient", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_patient_mobile_phone"), ["mobile_phone"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("patient", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_patient_mobile_phone"))

    with op.batch_alter_table("referral", schema=None) as batch_op:
        batch_op.drop_column("journey_end_reason")
        batch_op.drop_column("last_contact_at")
        batch_op.drop_column("next_channel")

    with op.batch_alter_table("contact_attempt", schema=None) as batch_op:
        batch_op.drop_column("voicemail_at")
        batch_op.drop_column("keypad_choice")
        batch_op.drop_column("provider_status")
        batch_op.drop_column("template")
