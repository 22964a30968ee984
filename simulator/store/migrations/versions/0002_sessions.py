"""sessions: a per-account session epoch; raising it ends every session of the account

Revision ID: 0002_sessions
Revises: 0002_instructor
Create Date: 2026-11-25 13:55:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0002_sessions"
down_revision = "0002_instructor"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.add_column(sa.Column("session_epoch", sa.Integer(), nullable=False, server_default="0"))


def downgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.drop_column("session_epoch")
