"""tasks.closed_by_dialer: a task the dialer closed because every number was final, not one the CRM closed

MikoPBX has one "closed" state (1) for both. We tell them apart so that a re-POST bringing new numbers reopens a
task that completed itself, while a task the CRM closed (state 1 sent by PUT or POST) stays closed.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("tasks", schema=None) as batch_op:
        batch_op.add_column(sa.Column("closed_by_dialer", sa.Boolean(), server_default="0", nullable=False))


def downgrade() -> None:
    with op.batch_alter_table("tasks", schema=None) as batch_op:
        batch_op.drop_column("closed_by_dialer")
