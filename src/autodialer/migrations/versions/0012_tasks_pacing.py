"""tasks.pacing: a campaign's pacing settings (issue 13), one JSON object or NULL for progressive

NULL is what every existing task and every MikoPBX v1 task gets: progressive, one call per free agent, exactly the
rule from before. v2 sets ``{"mode": "power"|"predictive", ...}`` (domain/pacing_config.py reads it).

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("tasks", schema=None) as batch_op:
        batch_op.add_column(sa.Column("pacing", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("tasks", schema=None) as batch_op:
        batch_op.drop_column("pacing")
