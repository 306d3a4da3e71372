"""OAuth 2.0 (3LO) tokens: when the customer consented (the grant's absolute lifetime counts from it).

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-03 10:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("oauth_tokens") as batch:
        batch.add_column(sa.Column("granted_at", sa.DateTime(timezone=True), nullable=True))
    # Rows of before: their first consent, the earliest the current one can be (a reconnect since
    # made the grant younger, so the absolute expiry shown errs early, never late).
    op.execute("UPDATE oauth_tokens SET granted_at = created_at")
    with op.batch_alter_table("oauth_tokens") as batch:
        batch.alter_column("granted_at", existing_type=sa.DateTime(timezone=True), nullable=False)


def downgrade() -> None:
    with op.batch_alter_table("oauth_tokens") as batch:
        batch.drop_column("granted_at")
