"""dialer store columns: task_numbers.requeues, attempts.mode and attempts.inner_num

The engine's ResultRow counts requeues (attempts that ended "every employee busy", not charged to the customer)
and an in-flight Attempt remembers its mode (connect/poll) and inner number as they were when it started, so a
restart can reconcile it even if the task was changed meanwhile.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-27
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("task_numbers", schema=None) as batch_op:
        batch_op.add_column(sa.Column("requeues", sa.Integer(), server_default="0", nullable=False))
    with op.batch_alter_table("attempts", schema=None) as batch_op:
        batch_op.add_column(sa.Column("mode", sa.String(length=16), server_default="connect", nullable=False))
        batch_op.add_column(sa.Column("inner_num", sa.String(length=64), server_default="", nullable=False))


def downgrade() -> None:
    with op.batch_alter_table("attempts", schema=None) as batch_op:
        batch_op.drop_column("inner_num")
        batch_op.drop_column("mode")
    with op.batch_alter_table("task_numbers", schema=None) as batch_op:
        batch_op.drop_column("requeues")
