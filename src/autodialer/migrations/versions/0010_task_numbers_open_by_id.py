"""task_numbers: the open-rows-by-id index keyed on (task_id + 0), so no other index can stand in for it

0008 added a full (task_id, id) index for paging GET /task/{id}. Without ANALYZE statistics SQLite then took it,
not 0006's partial ix_task_numbers_open, for "the lowest-id open numbers that are due" and "is any number open":
the same order, but walking every closed row before the first open one, O(numbers dialed so far) per planning
round. Keyed on the expression ``task_id + 0``, the open-rows index is the only one a query that says
``task_id + 0 = ?`` can use, on SQLite and PostgreSQL alike (tables.NUMBER_TASK_KEY).

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

_OPEN = "result = ''"


def upgrade() -> None:
    op.drop_index("ix_task_numbers_open", table_name="task_numbers")
    op.create_index(
        "ix_task_numbers_open_by_id",
        "task_numbers",
        [sa.text("(task_id + 0)"), "id"],
        sqlite_where=sa.text(_OPEN),
        postgresql_where=sa.text(_OPEN),
    )


def downgrade() -> None:
    op.drop_index("ix_task_numbers_open_by_id", table_name="task_numbers")
    op.create_index(
        "ix_task_numbers_open",
        "task_numbers",
        ["task_id", "id"],
        sqlite_where=sa.text(_OPEN),
        postgresql_where=sa.text(_OPEN),
    )
