"""Sync state per connection, and the scratch table of the deletion walk.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-23 16:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "sync_states",
        sa.Column("connection_id", sa.Uuid(), nullable=False),
        sa.Column("high_water_mark", sa.DateTime(timezone=True), nullable=True),
        sa.Column("run_started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("run_since", sa.DateTime(timezone=True), nullable=True),
        sa.Column("checkpoint", sa.DateTime(timezone=True), nullable=True),
        sa.Column("phase", sa.String(length=20), nullable=True),
        sa.Column("tickets_synced", sa.Integer(), nullable=False),
        sa.Column("tickets_deactivated", sa.Integer(), nullable=False),
        sa.Column("last_completed_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["connection_id"],
            ["connections.id"],
            name=op.f("fk_sync_states_connection_id_connections"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("connection_id", name=op.f("pk_sync_states")),
    )
    op.create_table(
        "sync_seen",
        sa.Column("connection_id", sa.Uuid(), nullable=False),
        sa.Column("vendor_id", sa.String(length=200), nullable=False),
        sa.ForeignKeyConstraint(
            ["connection_id"],
            ["connections.id"],
            name=op.f("fk_sync_seen_connection_id_connections"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("connection_id", "vendor_id", name=op.f("pk_sync_seen")),
    )


def downgrade() -> None:
    op.drop_table("sync_seen")
    op.drop_table("sync_states")
