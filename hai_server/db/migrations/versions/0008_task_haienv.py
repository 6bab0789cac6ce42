"""tasks.haienv_name and tasks.haienv_owner: the haienv a task's ranks run in (hai-cli
python ... -- --env NAME, or the environment active in the submitting shell).

Revision ID: 0008
Revises: 0006
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0006"
branch_labels = None
depends_on = None

COLUMNS = ("haienv_name", "haienv_owner")


def upgrade() -> None:
    # a database made by create_all (before migrations) already has them
    present = {c["name"] for c in sa.inspect(op.get_bind()).get_columns("tasks")}
    missing = [name for name in COLUMNS if name not in present]
    if missing:
        with op.batch_alter_table("tasks") as batch:
            for name in missing:
                batch.add_column(sa.Column(name, sa.String(64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("tasks") as batch:
        for name in reversed(COLUMNS):
            batch.drop_column(name)
