"""Jupyter containers: what a node of a shared Jupyter group offers (CPUs, memory).

Revision ID: 0010
Revises: 0009
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    have = {c["name"] for c in sa.inspect(op.get_bind()).get_columns("nodes")}
    for name in ("cpus", "memory_gib"):  # a database made by create_all already has them
        if name not in have:
            op.add_column("nodes", sa.Column(name, sa.Float, nullable=False, server_default="0"))


def downgrade() -> None:
    with op.batch_alter_table("nodes") as batch:
        batch.drop_column("memory_gib")
        batch.drop_column("cpus")
