"""import jobs: worklists uploaded in the browser, imported by a worker, with progress

* ``import_job``: the stored file's name, who uploaded it, the job's state and why it failed,
  rows checked of the file's rows, and the ``referral_import`` run it became.

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-27
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | Sequence[str] | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Add the import_job table."""
    op.create_table(
        "import_job",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column(
            "state",
            sa.Enum(
                "queued",
                "not_queued",
                "running",
                "finished",
                "failed",
                name="import_job_state",
                native_enum=False,
                create_constraint=True,
                length=18,
            ),
            nullable=False,
        ),
        sa.Column("error_reason", sa.String(length=40), nullable=True),
        sa.Column("filename", sa.String(length=255), nullable=False),
        sa.Column("stored_name", sa.String(length=64), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("size_bytes", sa.Integer(), nullable=False),
        sa.Column("uploaded_by_user_id", sa.Integer(), nullable=True),
        sa.Column("actor_label", sa.String(length=100), nullable=False),
        sa.Column("rows_total", sa.Integer(), nullable=True),
        sa.Column("rows_done", sa.Integer(), nullable=False),
        sa.Column("progress_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("referral_import_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["uploaded_by_user_id"],
            ["user_account.id"],
            name=op.f("fk_import_job_uploaded_by_user_id_user_account"),
        ),
        sa.ForeignKeyConstraint(
            ["referral_import_id"],
            ["referral_import.id"],
            name=op.f("fk_import_job_referral_import_id_referral_import"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_import_job")),
        sa.UniqueConstraint("stored_name", name=op.f("uq_import_job_stored_name")),
    )
    op.create_index("ix_import_job_created_at", "import_job", ["created_at"], unique=False)


def downgrade() -> None:
    """Drop the import_job table."""
    op.drop_index("ix_import_job_created_at", table_name="import_job")
    op.drop_table("import_job")
