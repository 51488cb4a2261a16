"""admin_credentials.token_generation: access tokens carry it, and a password change or revoke-sessions bumps it

JWTs are checked without a database row of their own; the generation they were issued under is compared with the
stored one on every request, so ending every session also ends every access token, on every instance at once.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("admin_credentials", schema=None) as batch_op:
        batch_op.add_column(sa.Column("token_generation", sa.Integer(), server_default="0", nullable=False))


def downgrade() -> None:
    with op.batch_alter_table("admin_credentials", schema=None) as batch_op:
        batch_op.drop_column("token_generation")
