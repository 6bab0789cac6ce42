"""nodes.name up to 253 characters: a Kubernetes node name is a DNS subdomain (<= 253).

PostgreSQL enforced the old VARCHAR(128) (SQLite never did): a cluster with one node of a
longer name made every reconciler tick fail on PostgreSQL while SQLite stored it.

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # the nodes table has no foreign keys: SQLite's batch copy is safe
    with op.batch_alter_table("nodes") as batch:
        batch.alter_column("name", type_=sa.String(253), existing_type=sa.String(128))


def downgrade() -> None:
    with op.batch_alter_table("nodes") as batch:
        batch.alter_column("name", type_=sa.String(128), existing_type=sa.String(253))
