"""tasks.whole_life_state as BIGINT: the SDK keeps any 64-bit value across restarts.

PostgreSQL's INTEGER stops at 2**31 - 1: a task that saved, say, the number of samples it
had seen made every reconciler tick fail on PostgreSQL. SQLite's INTEGER already holds 64
bits, so only PostgreSQL changes (the model maps SQLite to INTEGER as before).

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.alter_column(
        "tasks",
        "whole_life_state",
        type_=sa.BigInteger(),
        existing_type=sa.Integer(),
        existing_nullable=False,
    )


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.alter_column(
        "tasks",
        "whole_life_state",
        type_=sa.Integer(),
        existing_type=sa.BigInteger(),
        existing_nullable=False,
    )
