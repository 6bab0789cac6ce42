"""tasks.watchdog_s and tasks.hung_at: the hang watchdog (hai-cli python ... -- --watchdog S;
hung_at: when the watchdog last found the current attempt hung, None when it is not).

Revision ID: 0012
Revises: 0011
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

COLUMNS = (("watchdog_s", sa.Integer), ("hung_at", sa.Float))


def upgrade() -> None:
    # a database made by create_all (before migrations) already has them
    present = {c["name"] for c in sa.inspect(op.get_bind()).get_columns("tasks")}
    missing = [(name, kind) for name, kind in COLUMNS if name not in present]
    if missing:
        with op.batch_alter_table("tasks") as batch:
            for name, kind in missing:
                batch.add_column(sa.Column(name, kind(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("tasks") as batch:
        for name, _kind in reversed(COLUMNS):
            batch.drop_column(name)
