"""consistency records: the consistency task's record as the student reads it, stored once per scenario and seed

Revision ID: 0003_consistency_records
Revises: 0002_sessions
Create Date: 2026-11-25 19:45:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0003_consistency_records"
down_revision = "0002_sessions"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "consistency_records",
        sa.Column("scenario_id", sa.Integer(), nullable=False),
        sa.Column("seed", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("format", sa.Integer(), nullable=False),
        sa.Column("charts", sa.LargeBinary(), nullable=False),
        sa.Column("built_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["scenario_id"], ["scenarios.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("scenario_id", "seed"),
    )


def downgrade() -> None:
    op.drop_table("consistency_records")
