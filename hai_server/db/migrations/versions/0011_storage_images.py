"""storage (mounts from the database) and train_environment (built-in images), as the
original's init.sql documents them.

Revision ID: 0011
Revises: 0010
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    tables = sa.inspect(op.get_bind()).get_table_names()
    if "storage" not in tables:  # a database made by create_all already has it
        op.create_table(
            "storage",
            sa.Column("id", sa.Integer, primary_key=True),
            sa.Column("host_path", sa.String(1024), nullable=False),
            sa.Column("mount_path", sa.String(1024), nullable=False),
            sa.Column("owners", sa.JSON, nullable=False),
            sa.Column("conditions", sa.JSON, nullable=False),
            sa.Column("mount_type", sa.String(32), nullable=False),
            sa.Column("read_only", sa.Boolean, nullable=False),
            sa.Column("action", sa.String(8), nullable=False),
            sa.Column("active", sa.Boolean, nullable=False),
            sa.UniqueConstraint("host_path", "mount_path", "action"),
        )
    if "train_environment" not in tables:
        op.create_table(
            "train_environment",
            sa.Column("env_name", sa.String(64), primary_key=True),
            sa.Column("image", sa.String(512), nullable=False),
            sa.Column("python", sa.String(256), nullable=False),
            sa.Column("config", sa.JSON, nullable=False),
        )


def downgrade() -> None:
    op.drop_table("train_environment")
    op.drop_table("storage")
