"""initial schema

Revision ID: 0001
Revises:
Create Date: 2026-11-27
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:

    op.create_table(
        "patient",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("nhs_number", sa.String(length=10), nullable=False),
        sa.Column("given_name", sa.String(length=100), nullable=False),
        sa.Column("family_name", sa.String(length=100), nullable=False),
        sa.Column("date_of_birth", sa.Date(), nullable=False),
        sa.Column("mobile_phone", sa.String(length=16), nullable=True),
        sa.Column("landline_phone", sa.String(length=16), nullable=True),
        sa.Column("carer_phone", sa.String(length=16), nullable=True),
        sa.Column("address_line_1", sa.String(length=100), nullable=True),
        sa.Column("address_line_2", sa.String(length=100), nullable=True),
        sa.Column("address_line_3", sa.String(length=100), nullable=True),
        sa.Column("address_line_4", sa.String(length=100), nullable=True),
        sa.Column("address_line_5", sa.String(length=100), nullable=True),
        sa.Column("postcode", sa.String(length=8), nullable=True),
        sa.Column("no_voicemail", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("no_sms", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("letter_only", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("large_print", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("language", sa.String(length=35), nullable=True),
        sa.Column("sms_opted_out_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("sms_opt_out_source", sa.String(length=40), nullable=True),
        sa.Column("contact_opted_out_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("contact_opt_out_source", sa.String(length=40), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_patient")),
        sa.UniqueConstraint("nhs_number", name=op.f("uq_patient_nhs_number")),
    )
    op.create_table(
        "referral_import",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("filename", sa.String(length=255), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("size_bytes", sa.Integer(), nullable=False),
        sa.Column("actor_label", sa.String(length=100), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "running",
                "completed",
                "completed_with_rejections",
                "rejected",
                "failed",
                name="import_status",
                native_enum=False,
                create_constraint=True,
                length=33,
            ),
            nullable=False,
        ),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("imported_count", sa.Integer(), nullable=False),
        sa.Column("updated_count", sa.Integer(), nullable=False),
        sa.Column("unchanged_count", sa.Integer(), nullable=False),
        sa.Column("rejected_count", sa.Integer(), nullable=False),
        sa.Column("report", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_referral_import")),
    )
    op.create_table(
        "user_account",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("username", sa.String(length=64), nullable=False),
        sa.Column("display_name", sa.String(length=100), nullable=False),
        sa.Column("password_hash", sa.String(length=255), nullable=False),
        sa.Column(
            "role",
            sa.Enum(
                "handler",
                "supervisor",
                "manager",
                "admin",
                name="user_role",
                native_enum=False,
                create_constraint=True,
                length=18,
            ),
            nullable=False,
        ),
        sa.Column("active", sa.Boolean(), server_default=sa.true(), nullable=False),
        sa.Column("failed_sign_ins", sa.Integer(), server_default="0", nullable=False),
        sa.Column("locked_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_sign_in_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_user_account")),
        sa.UniqueConstraint("username", name=op.f("uq_user_account_username")),
    )
    op.create_table(
        "audit_event",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor_user_id", sa.Integer(), nullable=True),
        sa.Column("actor_label", sa.String(length=100), nullable=False),
        sa.Column("action", sa.String(length=60), nullable=False),
        sa.Column("object_type", sa.String(length=40), nullable=True),
        sa.Column("object_id", sa.String(length=64), nullable=True),
        sa.Column("outcome", sa.String(length=20), nullable=False),
        sa.Column("detail", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["actor_user_id"],
            ["user_account.id"],
            name=op.f("fk_audit_event_actor_user_id_user_account"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_event")),
    )
    with op.batch_alter_table("audit_event", schema=None) as batch_op:
        batch_op.create_index(
            "ix_audit_event_action_occurred_at", ["action", "occurred_at"], unique=False
        )
        batch_op.create_index("ix_audit_event_occurred_at", ["occurred_at"], unique=False)

    op.create_table(
        "handler",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("display_name", sa.String(length=100), nullable=False),
        sa.Column("endpoint", sa.String(length=200), nullable=False),
        sa.Column(
            "state",
            sa.Enum(
                "offline",
                "available",
                "ringing",
                "on_call",
                "wrap_up",
                "away",
                name="handler_state",
                native_enum=False,
                create_constraint=True,
                length=17,
            ),
            nullable=False,
        ),
        sa.Column("state_changed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["user_account.id"], name=op.f("fk_handler_user_id_user_account")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_handler")),
        sa.UniqueConstraint("user_id", name=op.f("uq_handler_user_id")),
    )
    op.create_table(
        "referral",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("ubrn", sa.String(length=12), nullable=False),
        sa.Column("patient_id", sa.Integer(), nullable=False),
        sa.Column("specialty", sa.String(length=100), nullable=False),
        sa.Column(
            "priority",
            sa.Enum(
                "2ww",
                "urgent",
                "routine",
                name="referral_priority",
                native_enum=False,
                create_constraint=True,
                length=15,
            ),
            nullable=False,
        ),
        sa.Column("referral_date", sa.Date(), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "waiting",
                "in_outreach",
                "reached",
                "booked",
                "declined",
                "exhausted",
                "cancelled",
                name="referral_status",
                native_enum=False,
                create_constraint=True,
                length=19,
            ),
            nullable=False,
        ),
        sa.Column("next_action_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("journey_step", sa.Integer(), nullable=False),
        sa.Column("reached_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column(
            "reached_by",
            sa.Enum(
                "call",
                "sms",
                "letter",
                name="reached_channel",
                native_enum=False,
                create_constraint=True,
                length=14,
            ),
            nullable=True,
        ),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_import_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["last_import_id"],
            ["referral_import.id"],
            name=op.f("fk_referral_last_import_id_referral_import"),
        ),
        sa.ForeignKeyConstraint(
            ["patient_id"], ["patient.id"], name=op.f("fk_referral_patient_id_patient")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_referral")),
        sa.UniqueConstraint("ubrn", name=op.f("uq_referral_ubrn")),
    )
    with op.batch_alter_table("referral", schema=None) as batch_op:
        batch_op.create_index(
            "ix_referral_dispatch", ["status", "priority", "next_action_at"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_referral_patient_id"), ["patient_id"], unique=False)
        batch_op.create_index(
            "ix_referral_waiting_order", ["status", "priority", "referral_date"], unique=False
        )

    op.create_table(
        "callback_request",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("referral_id", sa.Integer(), nullable=True),
        sa.Column("reason", sa.String(length=40), nullable=False),
        sa.Column("phone", sa.String(length=16), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("claimed_by_handler_id", sa.Integer(), nullable=True),
        sa.Column("claimed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("completed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("outcome", sa.String(length=40), nullable=True),
        sa.ForeignKeyConstraint(
            ["claimed_by_handler_id"],
            ["handler.id"],
            name=op.f("fk_callback_request_claimed_by_handler_id_handler"),
        ),
        sa.ForeignKeyConstraint(
            ["referral_id"], ["referral.id"], name=op.f("fk_callback_request_referral_id_referral")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_callback_request")),
    )
    with op.batch_alter_table("callback_request", schema=None) as batch_op:
        batch_op.create_index(
            "ix_callback_request_open", ["completed_at", "created_at"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_callback_request_referral_id"), ["referral_id"], unique=False
        )

    op.create_table(
        "contact_attempt",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("referral_id", sa.Integer(), nullable=False),
        sa.Column(
            "channel",
            sa.Enum(
                "call",
                "sms",
                "letter",
                name="attempt_channel",
                native_enum=False,
                create_constraint=True,
                length=14,
            ),
            nullable=False,
        ),
        sa.Column("step", sa.Integer(), nullable=False),
        sa.Column(
            "state",
            sa.Enum(
                "pending",
                "claimed",
                "sent",
                "uncertain",
                "final",
                name="attempt_state",
                native_enum=False,
                create_constraint=True,
                length=17,
            ),
            nullable=False,
        ),
        sa.Column(
            "outcome",
            sa.Enum(
                "human_handoff",
                "ivr_choice",
                "voicemail_left",
                "machine_no_message",
                "no_answer",
                "busy",
                "failed",
                "canceled",
                "delivered",
                "undelivered",
                "replied",
                "letter_printed",
                "letter_cancelled",
                name="attempt_outcome",
                native_enum=False,
                create_constraint=True,
                length=26,
            ),
            nullable=True,
        ),
        sa.Column("error_reason", sa.String(length=200), nullable=True),
        sa.Column("destination", sa.String(length=32), nullable=True),
        sa.Column("provider_sid", sa.String(length=64), nullable=True),
        sa.Column("answered_by", sa.String(length=32), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("claimed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("answered_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("ring_seconds", sa.Integer(), nullable=True),
        sa.Column("duration_seconds", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["referral_id"], ["referral.id"], name=op.f("fk_contact_attempt_referral_id_referral")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_contact_attempt")),
        sa.UniqueConstraint("provider_sid", name=op.f("uq_contact_attempt_provider_sid")),
        sa.UniqueConstraint("referral_id", "step", "channel", name="uq_contact_attempt_step"),
    )
    with op.batch_alter_table("contact_attempt", schema=None) as batch_op:
        batch_op.create_index("ix_contact_attempt_created_at", ["created_at"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_contact_attempt_referral_id"), ["referral_id"], unique=False
        )
        batch_op.create_index(
            "ix_contact_attempt_state_claimed_at", ["state", "claimed_at"], unique=False
        )

    op.create_table(
        "handler_session",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("handler_id", sa.Integer(), nullable=False),
        sa.Column(
            "state",
            sa.Enum(
                "offline",
                "available",
                "ringing",
                "on_call",
                "wrap_up",
                "away",
                name="handler_session_state",
                native_enum=False,
                create_constraint=True,
                length=17,
            ),
            nullable=False,
        ),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["handler_id"], ["handler.id"], name=op.f("fk_handler_session_handler_id_handler")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_handler_session")),
    )
    with op.batch_alter_table("handler_session", schema=None) as batch_op:
        batch_op.create_index(
            "ix_handler_session_handler_started", ["handler_id", "started_at"], unique=False
        )

    op.create_table(
        "handoff",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("attempt_id", sa.Uuid(), nullable=True),
        sa.Column("referral_id", sa.Integer(), nullable=True),
        sa.Column("handler_id", sa.Integer(), nullable=True),
        sa.Column("queued_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("connected_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("wrap_up_ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("abandoned", sa.Boolean(), nullable=False),
        sa.Column("outcome", sa.String(length=40), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["attempt_id"],
            ["contact_attempt.id"],
            name=op.f("fk_handoff_attempt_id_contact_attempt"),
        ),
        sa.ForeignKeyConstraint(
            ["handler_id"], ["handler.id"], name=op.f("fk_handoff_handler_id_handler")
        ),
        sa.ForeignKeyConstraint(
            ["referral_id"], ["referral.id"], name=op.f("fk_handoff_referral_id_referral")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_handoff")),
    )
    with op.batch_alter_table("handoff", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_handoff_attempt_id"), ["attempt_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_handoff_handler_id"), ["handler_id"], unique=False)
        batch_op.create_index("ix_handoff_queued_at", ["queued_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_handoff_referral_id"), ["referral_id"], unique=False)

    op.create_table(
        "provider_event",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("event_key", sa.String(length=200), nullable=False),
        sa.Column("kind", sa.String(length=40), nullable=False),
        sa.Column("provider_sid", sa.String(length=64), nullable=True),
        sa.Column("attempt_id", sa.Uuid(), nullable=True),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("processed_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["attempt_id"],
            ["contact_attempt.id"],
            name=op.f("fk_provider_event_attempt_id_contact_attempt"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_provider_event")),
        sa.UniqueConstraint("event_key", name=op.f("uq_provider_event_event_key")),
    )
    with op.batch_alter_table("provider_event", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_provider_event_attempt_id"), ["attempt_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_provider_event_provider_sid"), ["provider_sid"], unique=False
        )
        batch_op.create_index(
            "ix_provider_event_unprocessed", ["processed_at", "received_at"], unique=False
        )


def downgrade() -> None:

    with op.batch_alter_table("provider_event", schema=None) as batch_op:
        batch_op.drop_index("ix_provider_event_unprocessed")
        batch_op.drop_index(batch_op.f("ix_provider_event_provider_sid"))
        batch_op.drop_index(batch_op.f("ix_provider_event_attempt_id"))

    op.drop_table("provider_event")
    with op.batch_alter_table("handoff", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_handoff_referral_id"))
        batch_op.drop_index("ix_handoff_queued_at")
        batch_op.drop_index(batch_op.f("ix_handoff_handler_id"))
        batch_op.drop_index(batch_op.f("ix_handoff_attempt_id"))

    op.drop_table("handoff")
    with op.batch_alter_table("handler_session", schema=None) as batch_op:
        batch_op.drop_index("ix_handler_session_handler_started")

    op.drop_table("handler_session")
    with op.batch_alter_table("contact_attempt", schema=None) as batch_op:
        batch_op.drop_index("ix_contact_attempt_state_claimed_at")
        batch_op.drop_index(batch_op.f("ix_contact_attempt_referral_id"))
        batch_op.drop_index("ix_contact_attempt_created_at")

    op.drop_table("contact_attempt")
    with op.batch_alter_table("callback_request", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_callback_request_referral_id"))
        batch_op.drop_index("ix_callback_request_open")

    op.drop_table("callback_request")
    with op.batch_alter_table("referral", schema=None) as batch_op:
        batch_op.drop_index("ix_referral_waiting_order")
        batch_op.drop_index(batch_op.f("ix_referral_patient_id"))
        batch_op.drop_index("ix_referral_dispatch")

    op.drop_table("referral")
    op.drop_table("handler")
    with op.batch_alter_table("audit_event", schema=None) as batch_op:
        batch_op.drop_index("ix_audit_event_occurred_at")
        batch_op.drop_index("ix_audit_event_action_occurred_at")

    op.drop_table("audit_event")
    op.drop_table("user_account")
    op.drop_table("referral_import")
    op.drop_table("patient")
