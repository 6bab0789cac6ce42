"""The seams: tasks.held (a user's or admin's hold), tasks.retry_at and tasks.start_failures
(exponential back-off of failed starts), nodes.gpu_first (the first GPU index of a node, so
the launch adapter assigns device indices and no backend decides them), users.uid / gid
(the identity ranks run as when the server runs as root).

Revision ID: 0006
Revises: 0005
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


NEW_COLUMNS = {
    "tasks": (
        lambda: sa.Column("held", sa.Boolean, nullable=False, server_default=sa.false()),
        lambda: sa.Column("retry_at", sa.Float, nullable=True),
        lambda: sa.Column("start_failures", sa.Integer, nullable=False, server_default="0"),
    ),
    "nodes": (lambda: sa.Column("gpu_first", sa.Integer, nullable=False, server_default="0"),),
    "users": (
        lambda: sa.Column("uid", sa.Integer, nullable=True),
        lambda: sa.Column("gid", sa.Integer, nullable=True),
    ),
}


def upgrade() -> None:
    inspector = sa.inspect(op.get_bind())
    for table, makers in NEW_COLUMNS.items():
        # a database made by create_all (before migrations) already has them
        present = {c["name"] for c in inspector.get_columns(table)}
        missing = [col for col in (make() for make in makers) if col.name not in present]
        if missing:
            with op.batch_alter_table(table) as batch:
                for col in missing:
                    batch.add_column(col)


def downgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.drop_column("gid")
        batch.drop_column("uid")
    with op.batch_alter_table("nodes") as batch:
        batch.drop_column("gpu_first")
    with op.batch_alter_table("tasks") as batch:
        batch.drop_column("start_failures")
        batch.drop_column("retry_at")
        batch.drop_column("held")
