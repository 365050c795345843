"""handoff ACD: the patient's call leg and how a handoff began and ended; handler offers

* ``handoff`` gains ``source`` (outbound | inbound | callback), ``call_sid`` (the patient's leg,
  unique), ``caller_number`` (inbound only), ``callback_request_id``, ``ended_reason``,
  ``talk_seconds`` and ``wrap_up_seconds``; ``ix_handoff_attempt_id`` becomes unique (one
  handoff per outbound call).
* ``handoff_offer``: each handler rung for a handoff, with what became of it.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-27
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | Sequence[str] | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Add the handoff columns and the offer table."""
    with op.batch_alter_table("handoff", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("source", sa.String(length=20), nullable=False, server_default="outbound")
        )
        batch_op.add_column(sa.Column("call_sid", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("caller_number", sa.String(length=16), nullable=True))
        batch_op.add_column(sa.Column("callback_request_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("ended_reason", sa.String(length=30), nullable=True))
        batch_op.add_column(sa.Column("talk_seconds", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("wrap_up_seconds", sa.Integer(), nullable=True))
        batch_op.create_foreign_key(
            batch_op.f("fk_handoff_callback_request_id_callback_request"),
            "callback_request",
            ["callback_request_id"],
            ["id"],
        )
        batch_op.drop_index(batch_op.f("ix_handoff_attempt_id"))
        batch_op.create_index(batch_op.f("ix_handoff_attempt_id"), ["attempt_id"], unique=True)
        batch_op.create_index(batch_op.f("ix_handoff_call_sid"), ["call_sid"], unique=True)
        batch_op.create_index(
            batch_op.f("ix_handoff_callback_request_id"), ["callback_request_id"], unique=False
        )

    op.create_table(
        "handoff_offer",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("handoff_id", sa.Integer(), nullable=False),
        sa.Column("handler_id", sa.Integer(), nullable=False),
        sa.Column("offered_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("call_sid", sa.String(length=64), nullable=True),
        sa.Column("answered_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("result", sa.String(length=20), nullable=True),
        sa.ForeignKeyConstraint(
            ["handler_id"], ["handler.id"], name=op.f("fk_handoff_offer_handler_id_handler")
        ),
        sa.ForeignKeyConstraint(
            ["handoff_id"], ["handoff.id"], name=op.f("fk_handoff_offer_handoff_id_handoff")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_handoff_offer")),
    )
    with op.batch_alter_table("handoff_offer", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_handoff_offer_handoff_id"), ["handoff_id"], unique=False
        )
        batch_op.create_index(
            "ix_handoff_offer_handler_offered", ["handler_id", "offered_at"], unique=False
        )


def downgrade() -> None:
    """Drop the offer table and the handoff columns."""
    with op.batch_alter_table("handoff_offer", schema=None) as batch_op:
        batch_op.drop_index("ix_handoff_offer_handler_offered")
        batch_op.drop_index(batch_op.f("ix_handoff_offer_handoff_id"))
    op.drop_table("handoff_offer")
    with op.batch_alter_table("handoff", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_handoff_callback_request_id"))
        batch_op.drop_index(batch_op.f("ix_handoff_call_sid"))
        batch_op.drop_index(batch_op.f("ix_handoff_attempt_id"))
        batch_op.create_index(batch_op.f("ix_handoff_attempt_id"), ["attempt_id"], unique=False)
        batch_op.drop_constraint(
            batch_op.f("fk_handoff_callback_request_id_callback_request"), type_="foreignkey"
        )
        batch_op.drop_column("wrap_up_seconds")
        batch_op.drop_column("talk_seconds")
        batch_op.drop_column("ended_reason")
        batch_op.drop_column("callback_request_id")
        batch_op.drop_column("caller_number")
        batch_op.drop_column("call_sid")
        batch_op.drop_column("source")
