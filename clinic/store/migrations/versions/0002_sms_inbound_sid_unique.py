"""SMS log: one row per inbound Twilio MessageSid (unique partial index); created_at index.

Two replicas that receive the same Twilio webhook at once both pass the "already
handled?" check on PostgreSQL; the unique index makes the second insert fail, so only
one of them runs the assistant. Existing duplicates (none are expected: the check
prevented them on one server) keep the oldest row's sid; later copies lose theirs.
The created_at index serves the retention purge (``clinic purge``).

Revision ID: 0002_sms_inbound_sid
Revises: 0001
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002_sms_inbound_sid"
down_revision = "0001"
branch_labels = None
depends_on = None

INBOUND = "direction = 'inbound'"


def upgrade() -> None:
    """Clear duplicate inbound sids, then add the unique index and the time index."""
    op.execute(
        "UPDATE sms_messages SET provider_sid = NULL WHERE direction = 'inbound' "
        "AND provider_sid IS NOT NULL AND id NOT IN (SELECT MIN(id) FROM sms_messages "
        "WHERE direction = 'inbound' AND provider_sid IS NOT NULL GROUP BY provider_sid)"
    )
    op.create_index("uq_sms_messages_inbound_provider_sid", "sms_messages", ["provider_sid"],
                    unique=True, sqlite_where=sa.text(INBOUND),
                    postgresql_where=sa.text(INBOUND))
    op.create_index("ix_sms_messages_created_at", "sms_messages", ["created_at"])


def downgrade() -> None:
    """Drop both indexes."""
    op.drop_index("ix_sms_messages_created_at", table_name="sms_messages")
    op.drop_index("uq_sms_messages_inbound_provider_sid", table_name="sms_messages")
