"""samples: one row per group every studio.sample_interval_s, for Studio's charts.

Revision ID: 0009
Revises: 0006
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    if "samples" in sa.inspect(op.get_bind()).get_table_names():
        return  # a database made by create_all already has it
    op.create_table(
        "samples",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("at", sa.Float, nullable=False),
        sa.Column("group", sa.String(64), nullable=False),
        sa.Column("nodes", sa.Integer, nullable=False),
        sa.Column("busy", sa.Integer, nullable=False),
        sa.Column("queued", sa.Integer, nullable=False),
        sa.Column("running", sa.Integer, nullable=False),
        sa.Column("preemptions", sa.Integer, nullable=False),
    )
    op.create_index("ix_samples_at", "samples", ["at"])


def downgrade() -> None:
    op.drop_index("ix_samples_at", table_name="samples")
    op.drop_table("samples")
