"""instructor side: assignment open date, retry policy, tasks; library scenarios; score overrides; e-mail

Revision ID: 0002_instructor
Revises: 0002_audit
"""

import sqlalchemy as sa
from alembic import op

revision = "0002_instructor"
down_revision = "0002_audit"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.add_column(sa.Column("email", sa.String(length=254), nullable=False, server_default=""))
    with op.batch_alter_table("assignments", schema=None) as batch_op:
        batch_op.add_column(sa.Column("opens_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("retry_same_chart", sa.Boolean(), nullable=False, server_default=sa.false()))
    op.create_table(
        "library_scenarios",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("owner_id", sa.Integer(), nullable=False),
        sa.Column("slug", sa.String(length=100), nullable=False),
        sa.Column("title", sa.String(length=300), nullable=False),
        sa.Column("difficulty", sa.String(length=32), nullable=False),
        sa.Column("source_toml", sa.Text(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["owner_id"], ["users.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("owner_id", "slug", name="uq_library_scenarios_slug"),
    )
    op.create_table(
        "score_overrides",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("attempt_id", sa.Integer(), nullable=False),
        sa.Column("score", sa.Float(), nullable=False),
        sa.Column("previous_score", sa.Float(), nullable=True),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("overridden_by", sa.Integer(), nullable=False),
        sa.Column("overridden_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["attempt_id"], ["attempts.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["overridden_by"], ["users.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.CheckConstraint("score >= 0 AND score <= 100", name="ck_score_overrides_score"),
    )
    with op.batch_alter_table("score_overrides", schema=None) as batch_op:
        batch_op.create_index("ix_score_overrides_attempt_id", ["attempt_id"], unique=False)


def downgrade() -> None:
    op.drop_table("score_overrides")
    op.drop_table("library_scenarios")
    with op.batch_alter_table("assignments", schema=None) as batch_op:
        batch_op.drop_column("retry_same_chart")
        batch_op.drop_column("opens_at")
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.drop_column("email")
