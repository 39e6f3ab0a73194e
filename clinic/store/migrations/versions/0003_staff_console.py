"""Staff console: staff accounts, login sessions, audit log, conversation refs, take-overs.

Revision ID: 0003_staff_console
Revises: 0002_sms_inbound_sid
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003_staff_console"
down_revision = "0002_sms_inbound_sid"
branch_labels = None
depends_on = None

AUDIT_ACTIONS = ("login", "login_failed", "logout", "view", "take_over", "reply",
                 "hand_back", "export", "locked")


def _ts(name: str, nullable: bool = False) -> sa.Column:
    """A UTC timestamp column (written here in full so this file never changes)."""
    return sa.Column(name, sa.DateTime(), nullable=nullable)


def _fk_staff(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(["staff_id"], ["staff_accounts.id"],
                                   name=f"fk_{table}_staff_id_staff_accounts")


def upgrade() -> None:
    """Create the console's tables."""
    op.create_table(
        "staff_accounts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("email", sa.String(length=254), nullable=False),
        sa.Column("display_name", sa.String(length=100), nullable=False),
        sa.Column("password_hash", sa.Text(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        _ts("created_at"),
        sa.Column("failed_logins", sa.Integer(), nullable=False),
        _ts("locked_until", nullable=True),
        _ts("last_login_at", nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_staff_accounts"),
        sa.UniqueConstraint("email", name="uq_staff_accounts_email"),
    )
    op.create_table(
        "staff_sessions",
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("staff_id", sa.Integer(), nullable=False),
        sa.Column("csrf_token", sa.String(length=64), nullable=False),
        _ts("created_at"),
        _ts("last_seen_at"),
        _ts("expires_at"),
        _fk_staff("staff_sessions"),
        sa.PrimaryKeyConstraint("token_hash", name="pk_staff_sessions"),
    )
    op.create_index("ix_staff_sessions_staff_id", "staff_sessions", ["staff_id"])
    op.create_table(
        "audit_log",
        sa.Column("id", sa.Integer(), nullable=False),
        _ts("at"),
        sa.Column("staff_id", sa.Integer(), nullable=True),
        sa.Column("staff_email", sa.String(length=254), nullable=False),
        sa.Column("action", sa.String(length=32), nullable=False),
        sa.Column("conversation_ref", sa.String(length=32), nullable=True),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.CheckConstraint("action IN (" + ", ".join(repr(a) for a in AUDIT_ACTIONS) + ")",
                           name="ck_audit_log_action"),
        _fk_staff("audit_log"),
        sa.PrimaryKeyConstraint("id", name="pk_audit_log"),
    )
    op.create_index("ix_audit_log_at", "audit_log", ["at"])
    op.create_index("ix_audit_log_staff_id", "audit_log", ["staff_id"])
    op.create_index("ix_audit_log_conversation_ref", "audit_log", ["conversation_ref"])
    op.create_table(
        "conversation_refs",
        sa.Column("ref", sa.String(length=32), nullable=False),
        sa.Column("sender_id", sa.String(length=255), nullable=False),
        _ts("created_at"),
        sa.PrimaryKeyConstraint("ref", name="pk_conversation_refs"),
        sa.UniqueConstraint("sender_id", name="uq_conversation_refs_sender_id"),
    )
    op.create_table(
        "takeovers",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("sender_id", sa.String(length=255), nullable=False),
        sa.Column("staff_id", sa.Integer(), nullable=False),
        sa.Column("channel", sa.String(length=40), nullable=False),
        _ts("started_at"),
        _fk_staff("takeovers"),
        sa.PrimaryKeyConstraint("id", name="pk_takeovers"),
        sa.UniqueConstraint("sender_id", name="uq_takeovers_sender_id"),
    )
    op.create_index("ix_takeovers_staff_id", "takeovers", ["staff_id"])


def downgrade() -> None:
    """Drop the console's tables."""
    for table in ("takeovers", "conversation_refs", "audit_log", "staff_sessions",
                  "staff_accounts"):
        op.drop_table(table)
