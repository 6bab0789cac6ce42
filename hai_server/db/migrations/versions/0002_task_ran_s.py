"""tasks.ran_s: run time of a task's earlier attempts (ABOVE_NORMAL demotion counts it).

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # a database made by create_all (before migrations) may already have the column
    columns = {c["name"] for c in sa.inspect(op.get_bind()).get_columns("tasks")}
    if "ran_s" in columns:
        return
    with op.batch_alter_table("tasks") as batch:
        batch.add_column(sa.Column("ran_s", sa.Float, nullable=False, server_default="0"))


def downgrade() -> None:
    with op.batch_alter_table("tasks") as batch:
        batch.drop_column("ran_s")
