"""credential version: a password change signs the user's other sessions out

* ``user_account.credential_version``: raised whenever the password changes (by the user or an
  admin's reset). A signed-in session carries the version it began with and ends at its next
  request once the stored one has moved on. 0 for every existing user (server default).
* ``user_account.password_changed_at``: when the password last changed; null until it does.
* ``user_account.password_change_required``: the password is one an admin set (a new account's
  or a reset); the user must choose their own before anything else. False for every existing
  user (server default).

Plain ``ALTER TABLE`` on every backend, as 0014.

Revision ID: 0015
Revises: 0014
Create Date: 2026-11-28
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0015"
down_revision: str | Sequence[str] | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Add the credential version (0 for every user), when the password last changed, and
    whether the user must change it first (no one yet)."""
    op.add_column(
        "user_account",
        sa.Column("credential_version", sa.Integer(), server_default="0", nullable=False),
    )
    op.add_column(
        "user_account", sa.Column("password_changed_at", sa.DateTime(timezone=True), nullable=True)
    )
    op.add_column(
        "user_account",
        sa.Column(
            "password_change_required", sa.Boolean(), server_default=sa.false(), nullable=False
        ),
    )


def downgrade() -> None:
    """Drop the three columns."""
    op.drop_column("user_account", "password_change_required")
    op.drop_column("user_account", "password_changed_at")
    op.drop_column("user_account", "credential_version")
