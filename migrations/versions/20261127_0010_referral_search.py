"""referral search and actions: name and specialty indexes, audit lookups, per-referral pause

* ``referral.outreach_paused_at`` and ``outreach_pause_reason``: automated contact paused for
  one referral by a supervisor (dispatch must claim no step while it is set).
* ``ix_patient_name_search`` (lower(family_name), lower(given_name), id) and
  ``ix_patient_given_name_search`` (lower(given_name), id): name prefixes. On PostgreSQL the
  expressions are indexed with COLLATE "C", so a prefix is a byte range whatever the database's
  collation, and the index also gives the name order.
* ``ix_referral_specialty``: the specialty filter and the list of specialties.
* ``ix_audit_event_object`` (object_type, object_id, occurred_at) and
  ``ix_audit_event_actor_occurred_at``: a referral's history and the audit log's filters.

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-27
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | Sequence[str] | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

NAME_INDEXES = {
    "ix_patient_name_search": ("lower(family_name)", "lower(given_name)"),
    "ix_patient_given_name_search": ("lower(given_name)",),
}


def upgrade() -> None:
    """Add the pause columns and the search indexes."""
    with op.batch_alter_table("referral", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("outreach_paused_at", sa.DateTime(timezone=True), nullable=True)
        )
        batch_op.add_column(
            sa.Column("outreach_pause_reason", sa.String(length=200), nullable=True)
        )
    op.create_index("ix_referral_specialty", "referral", ["specialty"], unique=False)
    postgres = op.get_bind().dialect.name == "postgresql"
    for name, expressions in NAME_INDEXES.items():
        # Names come from this file, never from input.
        parts = [
            f'({expression}) COLLATE "C"' if postgres else expression for expression in expressions
        ]
        op.execute(f"CREATE INDEX {name} ON patient ({', '.join(parts)}, id)")
    op.create_index(
        "ix_audit_event_object",
        "audit_event",
        ["object_type", "object_id", "occurred_at"],
        unique=False,
    )
    op.create_index(
        "ix_audit_event_actor_occurred_at",
        "audit_event",
        ["actor_label", "occurred_at"],
        unique=False,
    )


def downgrade() -> None:
    """Drop the indexes and the pause columns."""
    op.drop_index("ix_audit_event_actor_occurred_at", table_name="audit_event")
    op.drop_index("ix_audit_event_object", table_name="audit_event")
    for name in reversed(NAME_INDEXES):
        op.drop_index(name, table_name="patient")
    op.drop_index("ix_referral_specialty", table_name="referral")
    with op.batch_alter_table("referral", schema=None) as batch_op:
        batch_op.drop_column("outreach_pause_reason")
        batch_op.drop_column("outreach_paused_at")
