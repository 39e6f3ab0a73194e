"""Appointments: visit times held in the clinic's CalDAV calendar (issue 20).

Revision ID: 0005_appointments
Revises: 0004_inbox
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005_appointments"
down_revision = "0004_inbox"
branch_labels = None
depends_on = None

STATES = ("pending_calendar", "held", "confirmed", "declined", "cancelled", "expired", "failed",
          "treated", "no_show")
ACTIVE = "state IN ('pending_calendar', 'held', 'confirmed')"


def _ts(name: str, nullable: bool = False) -> sa.Column:
    return sa.Column(name, sa.DateTime(), nullable=nullable)


def upgrade() -> None:
    """Create the appointments table."""
    op.create_table(
        "appointments",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("booking_id", sa.Integer(), nullable=False),
        sa.Column("calendar_url", sa.String(length=500), nullable=False),
        sa.Column("treatment", sa.String(length=64), nullable=False),
        _ts("starts_at"),
        _ts("ends_at"),
        sa.Column("buffer_minutes", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(length=20), nullable=False),
        _ts("created_at"),
        _ts("state_changed_at"),
        _ts("hold_expires_at", nullable=True),
        sa.Column("event_uid", sa.String(length=255), nullable=True),
        sa.Column("event_href", sa.String(length=1000), nullable=True),
        sa.Column("calendar_attempts", sa.Integer(), nullable=False),
        _ts("next_attempt_at", nullable=True),
        sa.Column("last_error", sa.String(length=200), nullable=True),
        sa.CheckConstraint("state IN (" + ", ".join(repr(s) for s in STATES) + ")",
                           name="ck_appointments_state"),
        sa.ForeignKeyConstraint(["booking_id"], ["booking_requests.id"],
                                name="fk_appointments_booking_id_booking_requests"),
        sa.PrimaryKeyConstraint("id", name="pk_appointments"),
    )
    op.create_index("ix_appointments_booking_id", "appointments", ["booking_id"])
    op.create_index("ix_appointments_starts_at", "appointments", ["starts_at"])
    op.create_index("uq_appointments_active_start", "appointments", ["calendar_url", "starts_at"],
                    unique=True, sqlite_where=sa.text(ACTIVE), postgresql_where=sa.text(ACTIVE))


def downgrade() -> None:
    """Drop the appointments table."""
    op.drop_table("appointments")
