"""(task_id, id) indexes on task_numbers and poll_answers: GET /task/{id} reads a task's rows in id order, a page
at a time (keyset), each page a seek and a short scan instead of a sort of the whole task

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-04
"""

from __future__ import annotations

from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_task_numbers_task_id_id", "task_numbers", ["task_id", "id"])
    op.create_index("ix_poll_answers_task_id_id", "poll_answers", ["task_id", "id"])


def downgrade() -> None:
    op.drop_index("ix_poll_answers_task_id_id", table_name="poll_answers")
    op.drop_index("ix_task_numbers_task_id_id", table_name="task_numbers")
