"""Initial schema: booking requests, SMS consents, promotion redemptions, SMS opt-outs,
follow-ups, the SMS log/outbox and webhook deliveries.

Timestamps are naive UTC columns (clinic.store.models.UTCDateTime converts at the edges).

Revision ID: 0001
Revises:
Create Date: 2026-11-24
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def _ts(name: str, nullable: bool = False) -> sa.Column:
    """A UTC timestamp column (written here in full so this file never changes)."""
    return sa.Column(name, sa.DateTime(), nullable=nullable)


def _fk_booking(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["booking_id"], ["booking_requests.id"], name=f"fk_{table}_booking_id_booking_requests"
    )


def upgrade() -> None:
    """Create every table of the clinic database."""
    op.create_table(
        "booking_requests",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("reference", sa.String(length=16), nullable=False),
        _ts("created_at"),
        sa.Column("conversation_id", sa.String(length=255), nullable=False),
        sa.Column("channel", sa.String(length=40), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("phone_e164", sa.String(length=20), nullable=False),
        sa.Column("email", sa.String(length=254), nullable=True),
        sa.Column("treatment", sa.String(length=64), nullable=False),
        sa.Column("preferred_times_text", sa.Text(), nullable=False),
        sa.Column("preferred_times_parsed", sa.JSON(), nullable=False),
        sa.Column("screening_outcome", sa.String(length=32), nullable=False),
        sa.Column("screening_answers", sa.JSON(), nullable=False),
        sa.Column("screening_summary", sa.Text(), nullable=False),
        sa.Column("promotion_code", sa.String(length=20), nullable=True),
        sa.Column("promotion_amount_usd", sa.Integer(), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        _ts("status_changed_at"),
        _ts("treated_at", nullable=True),
        sa.CheckConstraint(
            "status IN ('requested', 'confirmed', 'treated', 'cancelled')",
            name="ck_booking_requests_status",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_booking_requests"),
        sa.UniqueConstraint("reference", name="uq_booking_requests_reference"),
    )
    op.create_index("ix_booking_requests_conversation_id", "booking_requests", ["conversation_id"])
    op.create_index("ix_booking_requests_created_at", "booking_requests", ["created_at"])
    op.create_index("ix_booking_requests_email", "booking_requests", ["email"])
    op.create_index("ix_booking_requests_phone_e164", "booking_requests", ["phone_e164"])

    op.create_table(
        "sms_consents",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("booking_id", sa.Integer(), nullable=False),
        sa.Column("phone_e164", sa.String(length=20), nullable=False),
        sa.Column("wording", sa.Text(), nullable=False),
        sa.Column("given", sa.Boolean(), nullable=False),
        _ts("given_at"),
        sa.Column("channel", sa.String(length=40), nullable=False),
        sa.Column("conversation_id", sa.String(length=255), nullable=False),
        _fk_booking("sms_consents"),
        sa.PrimaryKeyConstraint("id", name="pk_sms_consents"),
    )
    op.create_index("ix_sms_consents_booking_id", "sms_consents", ["booking_id"])
    op.create_index("ix_sms_consents_phone_e164", "sms_consents", ["phone_e164"])

    op.create_table(
        "promotion_redemptions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=20), nullable=False),
        sa.Column("phone_e164", sa.String(length=20), nullable=False),
        sa.Column("email", sa.String(length=254), nullable=True),
        sa.Column("booking_id", sa.Integer(), nullable=False),
        _ts("redeemed_at"),
        _fk_booking("promotion_redemptions"),
        sa.PrimaryKeyConstraint("id", name="pk_promotion_redemptions"),
        # Once per person, decided by the database even when two saves race.
        sa.UniqueConstraint("code", "phone_e164", name="uq_promotion_redemptions_code_phone"),
        sa.UniqueConstraint("code", "email", name="uq_promotion_redemptions_code_email"),
    )
    op.create_index(
        "ix_promotion_redemptions_booking_id", "promotion_redemptions", ["booking_id"]
    )

    op.create_table(
        "sms_opt_outs",
        sa.Column("phone_e164", sa.String(length=20), nullable=False),
        sa.Column("opted_out", sa.Boolean(), nullable=False),
        sa.Column("keyword", sa.String(length=64), nullable=False),
        _ts("changed_at"),
        sa.PrimaryKeyConstraint("phone_e164", name="pk_sms_opt_outs"),
    )

    op.create_table(
        "followups",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("booking_id", sa.Integer(), nullable=False),
        sa.Column("phone_e164", sa.String(length=20), nullable=False),
        sa.Column("message_id", sa.String(length=64), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        _ts("due_at"),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        _ts("next_attempt_at", nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("claimed_by", sa.String(length=128), nullable=True),
        _ts("claimed_at", nullable=True),
        _ts("sent_at", nullable=True),
        sa.Column("provider_sid", sa.String(length=64), nullable=True),
        sa.CheckConstraint(
            "status IN ('scheduled', 'sending', 'sent', 'failed', 'cancelled', 'skipped')",
            name="ck_followups_status",
        ),
        _fk_booking("followups"),
        sa.PrimaryKeyConstraint("id", name="pk_followups"),
        sa.UniqueConstraint("booking_id", "message_id", name="uq_followups_booking_message"),
    )
    op.create_index("ix_followups_booking_id", "followups", ["booking_id"])
    op.create_index("ix_followups_phone_e164", "followups", ["phone_e164"])
    op.create_index("ix_followups_status_due", "followups", ["status", "due_at"])

    op.create_table(
        "sms_messages",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("direction", sa.String(length=10), nullable=False),
        sa.Column("phone_e164", sa.String(length=20), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        _ts("created_at"),
        sa.Column("transport", sa.String(length=20), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("provider_sid", sa.String(length=64), nullable=True),
        sa.Column("followup_id", sa.Integer(), nullable=True),
        sa.CheckConstraint(
            "direction IN ('outbound', 'inbound')", name="ck_sms_messages_direction"
        ),
        sa.ForeignKeyConstraint(
            ["followup_id"], ["followups.id"], name="fk_sms_messages_followup_id_followups"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_sms_messages"),
    )
    op.create_index("ix_sms_messages_followup_id", "sms_messages", ["followup_id"])
    op.create_index("ix_sms_messages_phone_e164", "sms_messages", ["phone_e164"])

    op.create_table(
        "webhook_deliveries",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("booking_id", sa.Integer(), nullable=False),
        sa.Column("url", sa.Text(), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        _ts("next_attempt_at", nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        _ts("delivered_at", nullable=True),
        sa.CheckConstraint(
            "status IN ('pending', 'delivered', 'failed')", name="ck_webhook_deliveries_status"
        ),
        _fk_booking("webhook_deliveries"),
        sa.PrimaryKeyConstraint("id", name="pk_webhook_deliveries"),
    )
    op.create_index("ix_webhook_deliveries_booking_id", "webhook_deliveries", ["booking_id"])
    op.create_index(
        "ix_webhook_deliveries_status_next", "webhook_deliveries", ["status", "next_attempt_at"]
    )


def downgrade() -> None:
    """Drop every table (children first)."""
    for table in ("webhook_deliveries", "sms_messages", "followups", "sms_opt_outs",
                  "promotion_redemptions", "sms_consents", "booking_requests"):
        op.drop_table(table)
