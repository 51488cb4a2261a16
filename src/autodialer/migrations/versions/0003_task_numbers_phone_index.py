"""task_numbers.phone_id index: numbers on the do-not-call list are found across every task

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-27
"""

from __future__ import annotations

from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("task_numbers", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_task_numbers_phone_id"), ["phone_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("task_numbers", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_task_numbers_phone_id"))
