"""The inbox: callback requests, assignments, widget presence; two more audit actions.

Revision ID: 0004_inbox
Revises: 0003_staff_console
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004_inbox"
down_revision = "0003_staff_console"
branch_labels = None
depends_on = None

AUDIT_ACTIONS_BEFORE = ("login", "login_failed", "logout", "view", "take_over", "reply",
                        "hand_back", "export", "locked")
AUDIT_ACTIONS = AUDIT_ACTIONS_BEFORE + ("handled", "assign")


def _ts(name: str, nullable: bool = False) -> sa.Column:
    """A UTC timestamp column (written here in full so this file never changes)."""
    return sa.Column(name, sa.DateTime(), nullable=nullable)


def _fk_staff(table: str, column: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint([column], ["staff_accounts.id"],
                                   name=f"fk_{table}_{column}_staff_accounts")


def _audit_actions(actions: tuple[str, ...]) -> None:
    with op.batch_alter_table("audit_log") as batch:
        batch.drop_constraint("ck_audit_log_action", type_="check")
        batch.create_check_constraint(
            "ck_audit_log_action", "action IN (" + ", ".join(repr(a) for a in actions) + ")")


def upgrade() -> None:
    """Create the inbox's tables; allow the audit actions "handled" and "assign"."""
    op.create_table(
        "callbacks",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("sender_id", sa.String(length=255), nullable=False),
        sa.Column("channel", sa.String(length=40), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=True),
        sa.Column("phone_e164", sa.String(length=20), nullable=True),
        sa.Column("email", sa.String(length=254), nullable=True),
        _ts("created_at"),
        _ts("call_from", nullable=True),
        sa.Column("assigned_staff_id", sa.Integer(), nullable=True),
        _ts("handled_at", nullable=True),
        sa.Column("handled_by", sa.Integer(), nullable=True),
        _fk_staff("callbacks", "assigned_staff_id"),
        _fk_staff("callbacks", "handled_by"),
        sa.PrimaryKeyConstraint("id", name="pk_callbacks"),
    )
    op.create_index("ix_callbacks_sender_id", "callbacks", ["sender_id"])
    op.create_index("ix_callbacks_created_at", "callbacks", ["created_at"])
    op.create_table(
        "inbox_assignments",
        sa.Column("sender_id", sa.String(length=255), nullable=False),
        sa.Column("staff_id", sa.Integer(), nullable=False),
        _ts("assigned_at"),
        _fk_staff("inbox_assignments", "staff_id"),
        sa.PrimaryKeyConstraint("sender_id", name="pk_inbox_assignments"),
    )
    op.create_table(
        "widget_presence",
        sa.Column("sender_id", sa.String(length=255), nullable=False),
        sa.Column("connected", sa.Integer(), nullable=False),
        _ts("last_seen"),
        sa.PrimaryKeyConstraint("sender_id", name="pk_widget_presence"),
    )
    _audit_actions(AUDIT_ACTIONS)


def downgrade() -> None:
    """Drop the inbox's tables and the two audit actions."""
    op.execute(sa.text("DELETE FROM audit_log WHERE action IN ('handled', 'assign')"))
    _audit_actions(AUDIT_ACTIONS_BEFORE)
    for table in ("widget_presence", "inbox_assignments", "callbacks"):
        op.drop_table(table)
