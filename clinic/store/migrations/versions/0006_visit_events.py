"""Visit history, staff visit actions in the audit log, failed visit look-ups (issue 20).

The ``visit_events`` table keeps one row per change of a visit (held, confirmed, moved,
cancelled, treated, no-show, running late ...), so the insights funnel counts what happened,
not only the current state. The audit log gains the staff's visit actions.

Existing visits get their history as far as it is known: the hold, and the state they are in.
``visit_lookup_failures`` counts reference + number pairs that matched nothing (as a hash of
the reference), so guessing is limited across conversations.

Revision ID: 0006_visit_events
Revises: 0005_appointments
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006_visit_events"
down_revision = "0005_appointments"
branch_labels = None
depends_on = None

AUDIT_ACTIONS_BEFORE = ("login", "login_failed", "logout", "view", "take_over", "reply",
                        "hand_back", "export", "locked", "handled", "assign")
VISIT_ACTIONS = ("visit_confirm", "visit_decline", "visit_propose", "visit_cancel",
                 "visit_treated", "visit_no_show")
KINDS = ("held", "pending_calendar", "confirmed", "declined", "cancelled", "expired", "failed",
         "moved", "treated", "no_show", "running_late", "patient_confirmed")
ACTORS = ("patient", "staff", "system")


def _audit_actions(actions: tuple[str, ...]) -> None:
    with op.batch_alter_table("audit_log") as batch:
        batch.drop_constraint("ck_audit_log_action", type_="check")
        batch.create_check_constraint(
            "ck_audit_log_action", "action IN (" + ", ".join(repr(a) for a in actions) + ")")


def _one_of(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


def upgrade() -> None:
    """Create visit_events (with the known history of existing visits); allow the staff's
    visit actions in the audit log."""
    op.create_table(
        "visit_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("appointment_id", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("actor", sa.String(length=10), nullable=False),
        sa.Column("seen_by_staff", sa.Boolean(), nullable=False),
        sa.CheckConstraint(_one_of("kind", KINDS), name="ck_visit_events_kind"),
        sa.CheckConstraint(_one_of("actor", ACTORS), name="ck_visit_events_actor"),
        sa.ForeignKeyConstraint(["appointment_id"], ["appointments.id"],
                                name="fk_visit_events_appointment_id_appointments"),
        sa.PrimaryKeyConstraint("id", name="pk_visit_events"),
    )
    op.create_index("ix_visit_events_appointment_id", "visit_events", ["appointment_id"])
    op.create_index("ix_visit_events_at", "visit_events", ["at"])
    op.create_table(
        "visit_lookup_failures",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_visit_lookup_failures"),
    )
    op.create_index("ix_visit_lookup_failures_key_at", "visit_lookup_failures", ["key", "at"])
    op.execute(sa.text(
        "INSERT INTO visit_events (appointment_id, at, kind, actor, seen_by_staff) "
        "SELECT id, created_at, 'held', 'system', TRUE FROM appointments "
        "WHERE state NOT IN ('pending_calendar', 'failed')"))
    op.execute(sa.text(
        "INSERT INTO visit_events (appointment_id, at, kind, actor, seen_by_staff) "
        "SELECT id, state_changed_at, state, 'system', TRUE FROM appointments "
        "WHERE state NOT IN ('held')"))
    _audit_actions(AUDIT_ACTIONS_BEFORE + VISIT_ACTIONS)


def downgrade() -> None:
    """Drop visit_events and the staff's visit actions."""
    op.execute(sa.text("DELETE FROM audit_log WHERE action IN ("
                       + ", ".join(repr(a) for a in VISIT_ACTIONS) + ")"))
    _audit_actions(AUDIT_ACTIONS_BEFORE)
    op.drop_table("visit_lookup_failures")
    op.drop_table("visit_events")
