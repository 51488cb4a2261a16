"""dnc_numbers keyed by E.164: ``8 952 223-34-46``, ``+7 952 2233446`` and ``79522233446`` are one listing

Before, the key was task_numbers' phone_id (the last ten digits), under which +1 952 223 3446 and +7 952 223 3446
are one number. Each stored row gets its E.164 form, read in ``AUTODIALER_DEFAULT_REGION`` (RU unless set); a number
without one (an internal short number) is keyed by its digits. Rows that turn out to be one number are merged,
keeping the earliest listing. phone_id stays, indexed, as the SQL's coarse prefilter toward task_numbers.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-04
"""

from __future__ import annotations

import os
from typing import Any

import sqlalchemy as sa
from alembic import op

from autodialer.adapters.phone_numbering import PhoneNumbering, dnc_key
from autodialer.domain.phone_numbers import phone_id_of

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

_COLUMNS = ("phone", "source", "created_at")


def upgrade() -> None:
    numbering = PhoneNumbering(os.environ.get("AUTODIALER_DEFAULT_REGION", "") or "RU")
    rows = _read_and_drop()
    table = op.create_table(
        "dnc_numbers",
        sa.Column("e164", sa.String(length=64), nullable=False),
        sa.Column("phone_id", sa.String(length=64), nullable=False),
        sa.Column("phone", sa.String(length=64), nullable=False),
        sa.Column("source", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("e164", name=op.f("pk_dnc_numbers")),
    )
    op.create_index(op.f("ix_dnc_numbers_phone_id"), "dnc_numbers", ["phone_id"], unique=False)
    merged: dict[str, dict[str, object]] = {}
    for row in sorted(rows, key=lambda r: float(r["created_at"])):
        key = dnc_key(numbering, str(row["phone"]))
        merged.setdefault(key, {"e164": key, "phone_id": phone_id_of(str(row["phone"])), **row})
    if merged:
        op.bulk_insert(table, list(merged.values()))


def downgrade() -> None:
    rows = _read_and_drop()
    table = op.create_table(
        "dnc_numbers",
        sa.Column("phone_id", sa.String(length=64), nullable=False),
        sa.Column("phone", sa.String(length=64), nullable=False),
        sa.Column("source", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("phone_id", name=op.f("pk_dnc_numbers")),
    )
    merged: dict[str, dict[str, object]] = {}
    for row in sorted(rows, key=lambda r: float(r["created_at"])):
        merged.setdefault(phone_id_of(str(row["phone"])), {"phone_id": phone_id_of(str(row["phone"])), **row})
    if merged:
        op.bulk_insert(table, list(merged.values()))


def _read_and_drop() -> list[dict[str, Any]]:
    """The listings, read before the table is dropped (its constraint names are reused by the new one)."""
    old = sa.table("dnc_numbers", *(sa.column(name) for name in _COLUMNS))
    rows = [dict(r) for r in op.get_bind().execute(sa.select(old)).mappings()]
    op.drop_table("dnc_numbers")
    return rows
