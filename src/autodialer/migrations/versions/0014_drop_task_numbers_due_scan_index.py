"""Drop ix_task_numbers_task_id_close_time_next_attempt_at_id: no query reads it since the open-row indexes of 0006
and 0010 answer the dialer's "due" and "next due" questions, and every number written (a million per big POST)
paid for its upkeep (issue 11)

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-06
"""

from __future__ import annotations

from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None

_NAME = "ix_task_numbers_task_id_close_time_next_attempt_at_id"


def upgrade() -> None:
    op.drop_index(_NAME, table_name="task_numbers")


def downgrade() -> None:
    op.create_index(_NAME, "task_numbers", ["task_id", "close_time", "next_attempt_at", "id"])
