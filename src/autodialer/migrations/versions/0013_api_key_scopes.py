"""api_keys.scope: an API key is scoped read (GET, HEAD, OPTIONS only) or write (everything) (issue 12)

Every key that exists gets ``write``, what it could do before, so nothing a deployment has changes; new keys get the
scope ``autodialer admin api-key create --scope`` gives them (``write`` unless told). domain/api_scopes.py holds the
rule.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-05
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("api_keys", schema=None) as batch_op:
        batch_op.add_column(sa.Column("scope", sa.String(8), server_default="write", nullable=False))


def downgrade() -> None:
    with op.batch_alter_table("api_keys", schema=None) as batch_op:
        batch_op.drop_column("scope")
