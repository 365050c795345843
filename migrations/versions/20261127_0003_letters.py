"""letters and daily print batches

Revision ID: 0003
Revises: 0001
Create Date: 2026-11-27
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:

    op.create_table(
        "print_batch",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("cut_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("letter_count", sa.Integer(), nullable=False),
        sa.Column("pdf_path", sa.String(length=500), nullable=False),
        sa.Column("manifest_path", sa.String(length=500), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_print_batch")),
        sa.UniqueConstraint("day", name=op.f("uq_print_batch_day")),
    )
    op.create_table(
        "letter",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("referral_id", sa.Integer(), nullable=False),
        sa.Column("attempt_id", sa.Uuid(), nullable=False),
        sa.Column("large_print", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "pending",
                "printed",
                "cancelled",
                name="letter_status",
                native_enum=False,
                create_constraint=True,
                length=17,
            ),
            nullable=False,
        ),
        sa.Column("batch_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("cancelled_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("cancel_reason", sa.String(length=200), nullable=True),
        sa.ForeignKeyConstraint(
            ["attempt_id"],
            ["contact_attempt.id"],
            name=op.f("fk_letter_attempt_id_contact_attempt"),
        ),
        sa.ForeignKeyConstraint(
            ["batch_id"], ["print_batch.id"], name=op.f("fk_letter_batch_id_print_batch")
        ),
        sa.ForeignKeyConstraint(
            ["referral_id"], ["referral.id"], name=op.f("fk_letter_referral_id_referral")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_letter")),
        sa.UniqueConstraint("attempt_id", name=op.f("uq_letter_attempt_id")),
    )
    with op.batch_alter_table("letter", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_letter_batch_id"), ["batch_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_letter_referral_id"), ["referral_id"], unique=False)
        batch_op.create_index("ix_letter_status_created_at", ["status", "created_at"], unique=False)


def downgrade() -> None:

    with op.batch_alter_table("letter", schema=None) as batch_op:
        batch_op.drop_index("ix_letter_status_created_at")
        batch_op.drop_index(batch_op.f("ix_letter_referral_id"))
        batch_op.drop_index(batch_op.f("ix_letter_batch_id"))

    op.drop_table("letter")
    op.drop_table("print_batch")
