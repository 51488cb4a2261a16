"""Per-campaign schedules, attempt limits and do-not-call lists; the callee's key on every attempt

- ``tasks``: the campaign's calling hours (the hours format of docs/call-windows.md; NULL: the global
  ``AUTODIALER_CALL_WINDOW``), excluded dates, absolute start and end, default time zone, and attempt limits (a JSON
  object of the limits set). v1 tasks leave them NULL and keep the global window.
- ``dnc_numbers.note`` (the CSV import's note, so far checked and dropped) and ``dnc_campaign_numbers``: one
  do-not-call list per campaign, keyed (task_id, E.164) like the global list, gone with its campaign.
- ``attempts.callee``: the number's do-not-call key (E.164, else its digits), indexed with the start time, so the
  cap on calls to one number per day across campaigns is one index range, not a scan of every campaign's rows.
  Existing attempts are given theirs, read in ``AUTODIALER_DEFAULT_REGION`` as 0009 did.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-04
"""

from __future__ import annotations

import os

import sqlalchemy as sa
from alembic import op

from autodialer.adapters.phone_numbering import PhoneNumbering, dnc_key

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

_BATCH = 1000


def upgrade() -> None:
    with op.batch_alter_table("tasks", schema=None) as batch_op:
        batch_op.add_column(sa.Column("call_hours", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("excluded_dates", sa.Text(), nullable=False, server_default=""))
        batch_op.add_column(sa.Column("starts_at", sa.Float(), nullable=True))
        batch_op.add_column(sa.Column("ends_at", sa.Float(), nullable=True))
        batch_op.add_column(sa.Column("default_zone", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("attempt_limits", sa.JSON(), nullable=True))
    with op.batch_alter_table("dnc_numbers", schema=None) as batch_op:
        batch_op.add_column(sa.Column("note", sa.String(length=200), nullable=False, server_default=""))
    op.create_table(
        "dnc_campaign_numbers",
        sa.Column("task_id", sa.BigInteger(), nullable=False),
        sa.Column("e164", sa.String(length=64), nullable=False),
        sa.Column("phone_id", sa.String(length=64), nullable=False),
        sa.Column("phone", sa.String(length=64), nullable=False),
        sa.Column("source", sa.String(length=64), nullable=False),
        sa.Column("note", sa.String(length=200), nullable=False, server_default=""),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.ForeignKeyConstraint(
            ["task_id"], ["tasks.id"], name=op.f("fk_dnc_campaign_numbers_task_id_tasks"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("task_id", "e164", name=op.f("pk_dnc_campaign_numbers")),
    )
    op.create_index(op.f("ix_dnc_campaign_numbers_phone_id"), "dnc_campaign_numbers", ["phone_id"], unique=False)
    with op.batch_alter_table("attempts", schema=None) as batch_op:
        batch_op.add_column(sa.Column("callee", sa.String(length=64), nullable=True))
    _fill_callees()
    op.create_index(op.f("ix_attempts_callee_created_at"), "attempts", ["callee", "created_at"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_attempts_callee_created_at"), table_name="attempts")
    with op.batch_alter_table("attempts", schema=None) as batch_op:
        batch_op.drop_column("callee")
    op.drop_index(op.f("ix_dnc_campaign_numbers_phone_id"), table_name="dnc_campaign_numbers")
    op.drop_table("dnc_campaign_numbers")
    with op.batch_alter_table("dnc_numbers", schema=None) as batch_op:
        batch_op.drop_column("note")
    with op.batch_alter_table("tasks", schema=None) as batch_op:
        for name in ("attempt_limits", "default_zone", "ends_at", "starts_at", "excluded_dates", "call_hours"):
            batch_op.drop_column(name)


def _fill_callees() -> None:
    numbering = PhoneNumbering(os.environ.get("AUTODIALER_DEFAULT_REGION", "") or "RU")
    bind = op.get_bind()
    table = sa.table("attempts", sa.column("phone", sa.String()), sa.column("callee", sa.String()))
    phones = [str(p) for p in bind.execute(sa.select(table.c.phone).distinct()).scalars()]
    statement = table.update().where(table.c.phone == sa.bindparam("p_phone")).values(callee=sa.bindparam("p_key"))
    for k in range(0, len(phones), _BATCH):
        chunk = phones[k : k + _BATCH]
        bind.execute(statement, [{"p_phone": p, "p_key": dnc_key(numbering, p)} for p in chunk])
